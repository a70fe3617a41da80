//! serde `Deserializer` over [`crate::yaml::Node`] that reports field paths and positions.
//!
//! Scalar conversions follow yaml.v3 (what Skaffold uses): string targets take the source
//! text of any scalar, null becomes the zero value, bool targets also take YAML 1.1 words
//! (`yes`, `off`). `deserialize_any` hands every non-null scalar over as its source text; the
//! only users are `IgnoredAny` and the string-or-list helpers, which want exactly that.

use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use crate::Location;
use crate::error::{ConfigError, FileCtx, Seg, path_string};
use crate::suggest;
use crate::yaml::{CoreTag, Entry, Node, Typed, Value, parse_bool, parse_float, parse_int};

impl FileCtx {
    /// A typing error of this module as the file's error, `base` prefixed to its field path.
    pub(crate) fn de_error(&self, err: DeError, base: &[Seg]) -> ConfigError {
        let field = path_string(base.iter().chain(err.segments()));
        match err.kind {
            DeErrorKind::UnknownField { name } => {
                self.unknown_field(err.loc, field, name, err.message, err.hint)
            }
            DeErrorKind::Invalid => self.invalid(err.loc, field, err.message, err.hint),
        }
    }
}

#[derive(Debug)]
pub(crate) enum DeErrorKind {
    UnknownField { name: String },
    Invalid,
}

/// A typing error with the position and path of the offending node.
#[derive(Debug)]
pub(crate) struct DeError {
    pub(crate) kind: DeErrorKind,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
    pub(crate) loc: Option<Location>,
    /// Innermost segment first (pushed while unwinding).
    segs: Vec<Seg>,
}

impl DeError {
    fn invalid(message: impl Into<String>) -> Self {
        DeError {
            kind: DeErrorKind::Invalid,
            message: message.into(),
            hint: None,
            loc: None,
            segs: Vec::new(),
        }
    }

    fn expected(what: &str, node: &Node) -> Self {
        DeError::invalid(format!("expected {what}, found {}", node.describe())).at(node.loc)
    }

    /// Sets the position unless a more precise one is already known.
    fn at(mut self, loc: Location) -> Self {
        if self.loc.is_none() {
            self.loc = Some(loc);
        }
        self
    }

    fn within(mut self, seg: Seg) -> Self {
        self.segs.push(seg);
        self
    }

    /// Path segments, outermost first.
    pub(crate) fn segments(&self) -> impl Iterator<Item = &Seg> {
        self.segs.iter().rev()
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::invalid(msg.to_string())
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::invalid(format!("expected {exp}, found {unexp}"))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::invalid(format!("invalid value {unexp}, expected {exp}"))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let message = if expected.is_empty() {
            format!("unknown field `{field}`, this mapping takes no fields")
        } else {
            format!(
                "unknown field `{field}`, expected one of {}",
                suggest::one_of(expected)
            )
        };
        DeError {
            kind: DeErrorKind::UnknownField {
                name: field.to_owned(),
            },
            message,
            hint: suggest::did_you_mean(field, expected.iter().copied()),
            loc: None,
            segs: Vec::new(),
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut err = DeError::invalid(format!(
            "unknown value `{variant}`, expected one of {}",
            suggest::one_of(expected)
        ));
        err.hint = suggest::did_you_mean(variant, expected.iter().copied());
        err
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::invalid(format!("missing field `{field}`"))
    }
}

/// Types `T` from `node`. `case_insensitive` matches struct keys ignoring ASCII case, as
/// viper does for `.ko.yaml`.
pub(crate) fn from_node<T: DeserializeOwned>(
    node: &Node,
    case_insensitive: bool,
) -> Result<T, DeError> {
    T::deserialize(NodeDe {
        node,
        ci: case_insensitive,
    })
}

struct NodeDe<'a> {
    node: &'a Node,
    ci: bool,
}

impl NodeDe<'_> {
    fn scalar_text(&self) -> Option<&str> {
        match &self.node.value {
            Value::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    fn int(&self, what: &str) -> Result<Option<i128>, DeError> {
        match &self.node.value {
            Value::Null => Ok(None),
            Value::Scalar(s)
                if s.tag.is_none_or(|t| t == CoreTag::Int) && (s.plain || s.tag.is_some()) =>
            {
                parse_int(&s.text)
                    .or_else(|| integral(parse_float(&s.text)?))
                    .map(Some)
                    .ok_or_else(|| DeError::expected(what, self.node))
            }
            _ => Err(DeError::expected(what, self.node)),
        }
    }

    fn map<'de, V: Visitor<'de>>(
        self,
        visitor: V,
        fields: Option<&'static [&'static str]>,
    ) -> Result<V::Value, DeError> {
        static EMPTY: Vec<Entry> = Vec::new();
        let entries = match &self.node.value {
            Value::Map(entries) => entries,
            Value::Null => &EMPTY,
            _ => return Err(DeError::expected("a mapping", self.node)),
        };
        visitor
            .visit_map(MapAcc {
                entries: entries.iter(),
                value: None,
                fields,
                ci: self.ci,
            })
            .map_err(|e: DeError| e.at(self.node.loc))
    }

    fn seq<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let items: &[Node] = match &self.node.value {
            Value::Seq(items) => items,
            Value::Null => &[],
            _ => return Err(DeError::expected("a sequence", self.node)),
        };
        visitor
            .visit_seq(SeqAcc {
                items: items.iter().enumerate(),
                ci: self.ci,
            })
            .map_err(|e: DeError| e.at(self.node.loc))
    }
}

/// A float with no fraction as an integer: go-yaml v3 sets an int field from a float
/// (`08` is the float 8, no octal; `1e3` is 1000). kiln refuses a fraction (`1.5`) where
/// go-yaml would drop it.
fn integral(f: f64) -> Option<i128> {
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 2f64.powi(63)).then_some(f as i128)
}

macro_rules! int_methods {
    ($($method:ident => $unsigned:literal),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let what = if $unsigned { "a non-negative integer" } else { "an integer" };
            let loc = self.node.loc;
            let value = self.int(what)?.unwrap_or(0);
            if $unsigned && value < 0 {
                return Err(DeError::expected(what, self.node));
            }
            let result = if let Ok(v) = i64::try_from(value) {
                visitor.visit_i64(v)
            } else if let Ok(v) = u64::try_from(value) {
                visitor.visit_u64(v)
            } else {
                Err(DeError::invalid(format!("integer `{value}` is out of range")))
            };
            result.map_err(|e: DeError| e.at(loc))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let loc = self.node.loc;
        match &self.node.value {
            Value::Null => visitor.visit_unit().map_err(|e: DeError| e.at(loc)),
            Value::Scalar(s) => visitor.visit_str(&s.text).map_err(|e: DeError| e.at(loc)),
            Value::Seq(_) => self.seq(visitor),
            Value::Map(_) => self.map(visitor, None),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let value = match &self.node.value {
            Value::Null => false,
            Value::Scalar(s) if s.plain || s.tag == Some(CoreTag::Bool) => {
                parse_bool(&s.text).ok_or_else(|| DeError::expected("a boolean", self.node))?
            }
            _ => return Err(DeError::expected("a boolean", self.node)),
        };
        visitor
            .visit_bool(value)
            .map_err(|e: DeError| e.at(self.node.loc))
    }

    int_methods! {
        deserialize_i8 => false, deserialize_i16 => false, deserialize_i32 => false,
        deserialize_i64 => false, deserialize_u8 => true, deserialize_u16 => true,
        deserialize_u32 => true, deserialize_u64 => true,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let value = match &self.node.value {
            Value::Null => 0.0,
            Value::Scalar(s) if s.plain || matches!(s.tag, Some(CoreTag::Float | CoreTag::Int)) => {
                parse_float(&s.text).ok_or_else(|| DeError::expected("a number", self.node))?
            }
            _ => return Err(DeError::expected("a number", self.node)),
        };
        visitor
            .visit_f64(value)
            .map_err(|e: DeError| e.at(self.node.loc))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let loc = self.node.loc;
        match &self.node.value {
            Value::Null => visitor.visit_str(""),
            Value::Scalar(s) => visitor.visit_str(&s.text),
            _ => return Err(DeError::expected("a string", self.node)),
        }
        .map_err(|e: DeError| e.at(loc))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.is_null() {
            visitor
                .visit_none()
                .map_err(|e: DeError| e.at(self.node.loc))
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Null => visitor
                .visit_unit()
                .map_err(|e: DeError| e.at(self.node.loc)),
            _ => Err(DeError::expected("null", self.node)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.seq(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.map(visitor, None)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.map(visitor, Some(fields))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let Some(text) = self.scalar_text() else {
            return Err(DeError::expected("a string", self.node));
        };
        visitor
            .visit_enum(text.into_deserializer())
            .map_err(|e: DeError| e.at(self.node.loc))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // Nothing to check, and no need to walk the subtree.
        visitor.visit_unit()
    }
}

struct MapAcc<'a> {
    entries: std::slice::Iter<'a, Entry>,
    value: Option<&'a Entry>,
    fields: Option<&'static [&'static str]>,
    ci: bool,
}

impl<'de> de::MapAccess<'de> for MapAcc<'_> {
    type Error = DeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(entry);
        let mut key = entry.key.as_str();
        if self.ci
            && let Some(fields) = self.fields
            && !fields.contains(&key)
            && let Some(canonical) = fields.iter().find(|f| f.eq_ignore_ascii_case(key))
        {
            key = canonical;
        }
        seed.deserialize(KeyDe { key })
            .map(Some)
            .map_err(|e: DeError| e.at(entry.key_loc))
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DeError> {
        let Some(entry) = self.value.take() else {
            return Err(DeError::invalid("value requested before key"));
        };
        seed.deserialize(NodeDe {
            node: &entry.value,
            ci: self.ci,
        })
        .map_err(|e: DeError| e.at(entry.value.loc).within(Seg::Key(entry.key.clone())))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct SeqAcc<'a> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
    ci: bool,
}

impl<'de> de::SeqAccess<'de> for SeqAcc<'_> {
    type Error = DeError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((i, node)) = self.items.next() else {
            return Ok(None);
        };
        seed.deserialize(NodeDe { node, ci: self.ci })
            .map(Some)
            .map_err(|e: DeError| e.at(node.loc).within(Seg::Index(i)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// Mapping keys are strings; everything asks for them as such.
struct KeyDe<'a> {
    key: &'a str,
}

impl<'de> de::Deserializer<'de> for KeyDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.key)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// A list of strings that may also be written as one string, split on whitespace
/// (ko's `FlagArray`; viper's string-slice coercion).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Fields(pub(crate) Vec<String>);

/// A list of strings that may also be written as one string, kept whole (ko's `StringArray`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OneOrMany(pub(crate) Vec<String>);

struct StrOrSeq {
    split: bool,
}

impl<'de> Visitor<'de> for StrOrSeq {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a sequence of strings")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(if self.split {
            v.split_whitespace().map(str::to_owned).collect()
        } else {
            vec![v.to_owned()]
        })
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            out.push(item);
        }
        Ok(out)
    }
}

impl<'de> de::Deserialize<'de> for Fields {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrOrSeq { split: true }).map(Fields)
    }
}

impl<'de> de::Deserialize<'de> for OneOrMany {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrOrSeq { split: false }).map(OneOrMany)
    }
}

/// Resolved bool of a scalar node, for tree-level checks outside serde.
pub(crate) fn node_is_zero(node: &Node) -> bool {
    match node.typed() {
        Some(Typed::Null) => true,
        Some(Typed::Bool(b)) => !b,
        Some(Typed::Int(i)) => i == 0,
        Some(Typed::Float(f)) => f == 0.0,
        Some(Typed::Str(s)) => s.is_empty(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;
    use serde::Deserialize;

    use super::*;
    use crate::error::path_string;
    use crate::yaml::parse_documents;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Outer {
        name: String,
        #[serde(default)]
        count: Option<u32>,
        #[serde(default)]
        on: bool,
        #[serde(default)]
        items: Vec<Inner>,
        #[serde(default)]
        labels: IndexMap<String, String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Inner {
        from_image: Option<String>,
        #[serde(default)]
        flags: Option<Fields>,
        #[serde(default)]
        ldflags: Option<OneOrMany>,
    }

    fn parse<T: DeserializeOwned>(text: &str) -> Result<T, DeError> {
        let docs = parse_documents(text).expect("yaml");
        from_node(&docs[0], false)
    }

    #[test]
    fn types_with_yaml_v3_scalar_rules() {
        let v: Outer = parse(
            "name: 1.10\ncount: 0x10\non: yes\nitems:\n- fromImage: x\n  flags: -a  -b\n  ldflags: -s -w\nlabels: {v: 1.0}\n",
        )
        .expect("types");
        assert_eq!(v.name, "1.10");
        assert_eq!(v.count, Some(16));
        assert!(v.on);
        assert_eq!(v.items[0].from_image.as_deref(), Some("x"));
        assert_eq!(
            v.items[0].flags.as_ref().map(|f| f.0.clone()),
            Some(vec!["-a".into(), "-b".into()])
        );
        assert_eq!(
            v.items[0].ldflags.as_ref().map(|f| f.0.clone()),
            Some(vec!["-s -w".into()])
        );
        assert_eq!(v.labels.get("v").map(String::as_str), Some("1.0"));
    }

    #[test]
    fn unknown_field_has_key_position_parent_path_and_hint() {
        let err = parse::<Outer>("name: a\nitems:\n  - fromImage: x\n    ldflagz: [a]\n")
            .expect_err("unknown");
        assert!(matches!(&err.kind, DeErrorKind::UnknownField { name } if name == "ldflagz"));
        assert_eq!(err.loc, Some(Location { line: 4, column: 5 }));
        assert_eq!(path_string(err.segments()), "items[0]");
        assert_eq!(err.hint.as_deref(), Some("did you mean `ldflags`?"));
    }

    #[test]
    fn wrong_types_point_at_the_value() {
        let err = parse::<Outer>("name: a\ncount: lots\n").expect_err("type");
        assert_eq!(err.loc, Some(Location { line: 2, column: 8 }));
        assert_eq!(path_string(err.segments()), "count");
        assert!(
            err.message.contains("expected a non-negative integer"),
            "{}",
            err.message
        );

        let err = parse::<Outer>("name: [a]\n").expect_err("type");
        assert_eq!(path_string(err.segments()), "name");
        assert!(err.message.contains("found a sequence"), "{}", err.message);

        let err = parse::<Outer>("name: a\non: 'true'\n").expect_err("quoted bool");
        assert!(
            err.message.contains("expected a boolean"),
            "{}",
            err.message
        );

        let err = parse::<Outer>("name: a\ncount: -1\n").expect_err("negative");
        assert_eq!(path_string(err.segments()), "count");
        assert_eq!(
            err.message,
            "expected a non-negative integer, found integer `-1`"
        );
    }

    #[test]
    fn missing_field_points_at_the_mapping() {
        let err = parse::<Outer>("count: 1\n").expect_err("missing");
        assert!(err.message.contains("missing field `name`"));
        assert_eq!(err.loc, Some(Location { line: 1, column: 1 }));
    }

    #[test]
    fn case_insensitive_keys_for_viper_files() {
        let docs = parse_documents("NAME: a\n").expect("yaml");
        let v: Outer = from_node(&docs[0], true).expect("ci");
        assert_eq!(v.name, "a");
    }
}
