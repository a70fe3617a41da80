//! `ko resolve`: finding `ko://` references and splicing in the built references.

use std::collections::HashMap;

use kiln_render::{Error, KoManifest, find_ko_references, replace_scalars};

const FOO: &str = "ko://github.com/awesomesauce/foo";
const BAR: &str = "ko://github.com/awesomesauce/bar";
const FOO_REF: &str = "gcr.io/mattmoor/foo-9e3f5b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const BAR_REF: &str = "gcr.io/mattmoor/bar-1c2d3e@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

fn resolved() -> HashMap<String, String> {
    HashMap::from([
        (FOO.to_owned(), FOO_REF.to_owned()),
        (BAR.to_owned(), BAR_REF.to_owned()),
    ])
}

fn resolve(text: &str) -> String {
    replace_scalars(text, &resolved()).unwrap()
}

#[test]
fn references_anywhere_in_every_document_once_each_in_first_seen_order() {
    let text = "\
# a comment
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
      - name: foo
        image: ko://github.com/awesomesauce/foo
        args:
        - --sidecar=ko://not/a/prefix
        - ko://github.com/awesomesauce/bar
        env:
        - name: SIDECAR
          value: ko://github.com/awesomesauce/baz
---
apiVersion: v1
kind: ConfigMap
data:
  again: ko://github.com/awesomesauce/foo
  nested: {deep: [ko://github.com/awesomesauce/qux]}
";
    assert_eq!(
        find_ko_references(text).unwrap(),
        vec![
            FOO,
            BAR,
            "ko://github.com/awesomesauce/baz",
            "ko://github.com/awesomesauce/qux",
        ]
    );
}

#[test]
fn only_the_references_change_byte_for_byte() {
    let text = "\
# Source: app/templates/deploy.yaml
apiVersion: apps/v1   # trailing comment
kind: Deployment
metadata: {name: foo, labels: {app: foo}}
spec:
  template:
    spec:
      containers:
      - image: ko://github.com/awesomesauce/foo   # the app
        name: foo
      - image: 'ko://github.com/awesomesauce/bar'
        name: bar
      - image: \"ko://github.com/awesomesauce/foo\"
        name: foo2
      - image: nginx:1.25   # not ko, untouched
        name: web

---
# second document
kind: List
items: [ko://github.com/awesomesauce/bar, \"x\"]
...
";
    let expected = format!(
        "\
# Source: app/templates/deploy.yaml
apiVersion: apps/v1   # trailing comment
kind: Deployment
metadata: {{name: foo, labels: {{app: foo}}}}
spec:
  template:
    spec:
      containers:
      - image: {FOO_REF}   # the app
        name: foo
      - image: '{BAR_REF}'
        name: bar
      - image: \"{FOO_REF}\"
        name: foo2
      - image: nginx:1.25   # not ko, untouched
        name: web

---
# second document
kind: List
items: [{BAR_REF}, \"x\"]
...
"
    );
    assert_eq!(resolve(text), expected);
}

#[test]
fn ko_test_vectors_arrays_maps_objects() {
    // The shapes of ko's TestYAMLArrays / TestYAMLMaps / TestYAMLObject, as yaml.Marshal
    // writes them.
    assert_eq!(
        resolve(&format!("- {FOO}\n- {BAR}\n")),
        format!("- {FOO_REF}\n- {BAR_REF}\n")
    );
    assert_eq!(resolve("[]\n"), "[]\n");
    // "simple key" and "key and value": keys are string scalars too.
    assert_eq!(
        resolve(&format!("{FOO}: blah\n")),
        format!("{FOO_REF}: blah\n")
    );
    assert_eq!(
        resolve(&format!("{FOO}: {BAR}\n")),
        format!("{FOO_REF}: {BAR_REF}\n")
    );
    assert_eq!(
        find_ko_references(&format!("{FOO}: {BAR}\n")).unwrap(),
        vec![FOO, BAR]
    );
    // "deep field"
    let deep = format!(
        "s: \"\"\nm:\n  blah:\n    s: \"\"\n    m: {{}}\n    a:\n    - s: \"\"\n      m: {{}}\n      a: []\n      p:\n        s: {FOO}\n        m: {{}}\n        a: []\n        p: null\n    p: null\na: []\np: null\n"
    );
    assert_eq!(resolve(&deep), deep.replace(FOO, FOO_REF));
}

#[test]
fn the_same_reference_twice_is_one_entry_and_replaced_everywhere() {
    let text = format!("a: {FOO}\nb: [{FOO}, {FOO}]\nc: '{FOO}'\n");
    assert_eq!(find_ko_references(&text).unwrap(), vec![FOO]);
    assert_eq!(
        resolve(&text),
        format!("a: {FOO_REF}\nb: [{FOO_REF}, {FOO_REF}]\nc: '{FOO_REF}'\n")
    );
}

#[test]
fn block_scalars_count_and_keep_their_style() {
    // ko reads `|` as "ko://…\n" and trims it; its encoder then writes the literal style
    // back as `|-`.
    let text = format!("a: |\n  {FOO}\nb: >\n    {BAR}\n\nc: &c |+ # keep\n  {FOO}\n\nd: x\n");
    assert_eq!(find_ko_references(&text).unwrap(), vec![FOO, BAR]);
    assert_eq!(
        resolve(&text),
        format!(
            "a: |-\n  {FOO_REF}\nb: >-\n    {BAR_REF}\n\nc: &c |- # keep\n  {FOO_REF}\n\nd: x\n"
        )
    );
    // A block that starts with an empty line does not start with `ko://` (ko agrees).
    assert_eq!(
        find_ko_references(&format!("a: |\n\n  {FOO}\n")).unwrap(),
        Vec::<String>::new()
    );
    // At the very end of the input, without a line break.
    assert_eq!(
        resolve(&format!("- |\n  {FOO}")),
        format!("- |-\n  {FOO_REF}")
    );
}

#[test]
fn trimmed_like_strings_trim_space() {
    let text = format!("a: \"{FOO}  \"\nb: \"  {BAR}\"\n");
    // A leading blank is not a `ko://` prefix; a trailing one is trimmed away.
    assert_eq!(find_ko_references(&text).unwrap(), vec![FOO]);
    assert_eq!(
        resolve(&text),
        format!("a: \"{FOO_REF}\"\nb: \"  {BAR}\"\n")
    );
}

#[test]
fn only_string_scalars() {
    // `!!str` counts, another tag does not (ko filters on the `!!str` tag).
    let text = format!("a: !!str {FOO}\nb: !custom {BAR}\n");
    assert_eq!(find_ko_references(&text).unwrap(), vec![FOO]);
    assert_eq!(
        resolve(&text),
        format!("a: !!str {FOO_REF}\nb: !custom {BAR}\n")
    );
    // Numbers and booleans are never replaced, even if the map has their text as a key.
    let map = HashMap::from([
        ("8080".to_owned(), "x".to_owned()),
        ("true".to_owned(), "y".to_owned()),
    ]);
    assert_eq!(
        replace_scalars("port: 8080\non: true\nq: '8080'\n", &map).unwrap(),
        "port: 8080\non: true\nq: 'x'\n"
    );
}

#[test]
fn a_reference_behind_an_alias_is_found_and_replaced_at_its_anchor() {
    // ko's walk does not enter aliases; replacing the anchored scalar changes every alias
    // to it, as ko's output (which keeps `&`/`*`) does.
    let text = format!("a: &img {FOO}\nb: *img\nc: [*img]\n");
    assert_eq!(find_ko_references(&text).unwrap(), vec![FOO]);
    assert_eq!(
        resolve(&text),
        format!("a: &img {FOO_REF}\nb: *img\nc: [*img]\n")
    );
}

#[test]
fn replacements_that_are_not_plain_safe_are_quoted() {
    let map = HashMap::from([
        (FOO.to_owned(), "a: b".to_owned()),
        (BAR.to_owned(), "it's".to_owned()),
    ]);
    assert_eq!(
        replace_scalars(&format!("x: {FOO}\ny: '{BAR}'\nz: [{FOO}]\n"), &map).unwrap(),
        "x: \"a: b\"\ny: 'it''s'\nz: [\"a: b\"]\n"
    );
    let map = HashMap::from([(FOO.to_owned(), "a,b".to_owned())]);
    assert_eq!(
        replace_scalars(&format!("x: {FOO}\nz: [{FOO}]\n"), &map).unwrap(),
        "x: a,b\nz: [\"a,b\"]\n"
    );
    let map = HashMap::from([(FOO.to_owned(), "two\nlines".to_owned())]);
    assert_eq!(
        replace_scalars(&format!("x: '{FOO}'\ny: |\n  {FOO}\n"), &map).unwrap(),
        "x: \"two\\nlines\"\ny: \"two\\nlines\"\n"
    );
}

#[test]
fn empty_documents_and_no_references() {
    for text in [
        "",
        "\n",
        "# only a comment\n",
        "---\n",
        "--- \n...\n---\n",
        "a: 1\n---\n---\nb: 2\n",
    ] {
        assert_eq!(
            find_ko_references(text).unwrap(),
            Vec::<String>::new(),
            "{text:?}"
        );
        assert_eq!(resolve(text), text);
    }
}

#[test]
fn multi_line_plain_and_unicode() {
    let text = "a: ko://example.com/é\nb: ko://x\n  y\n";
    assert_eq!(
        find_ko_references(text).unwrap(),
        vec!["ko://example.com/é", "ko://x y"]
    );
    let map = HashMap::from([
        ("ko://x y".to_owned(), "reg/x".to_owned()),
        ("ko://example.com/é".to_owned(), "reg/é".to_owned()),
    ]);
    assert_eq!(replace_scalars(text, &map).unwrap(), "a: reg/é\nb: reg/x\n");
}

#[test]
fn line_endings_byte_order_marks_directives_and_explicit_keys() {
    let map = HashMap::from([(FOO.to_owned(), "reg/foo".to_owned())]);
    let cases = [
        (
            format!("x: {FOO}\r\ny: |\r\n  {FOO}\r\nz: 1\r\n"),
            "x: reg/foo\r\ny: |-\r\n  reg/foo\r\nz: 1\r\n",
        ),
        (format!("\u{feff}x: {FOO}\n"), "\u{feff}x: reg/foo\n"),
        (
            format!("%YAML 1.2\n---\nx: {FOO}\n"),
            "%YAML 1.2\n---\nx: reg/foo\n",
        ),
        (
            format!("x: [a, {{{FOO}: {FOO}}}]\n"),
            "x: [a, {reg/foo: reg/foo}]\n",
        ),
        (
            format!("? {FOO}\n: |\n  {FOO}\n"),
            "? reg/foo\n: |-\n  reg/foo\n",
        ),
        (
            format!("- !!str |\n  {FOO}\n- &q >+\n  {FOO}\n\n\n- z\n"),
            "- !!str |-\n  reg/foo\n- &q >-\n  reg/foo\n\n\n- z\n",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(replace_scalars(&text, &map).unwrap(), expected, "{text:?}");
    }
}

#[test]
fn malformed_yaml_is_an_error_with_its_position() {
    let err = find_ko_references("a: 1\nb: [1, 2\n").unwrap_err();
    assert_eq!(
        err,
        Error::Syntax {
            line: 2,
            column: 4,
            message: "unclosed bracket '['".to_owned()
        }
    );
    let err = find_ko_references("a: \"open\n").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Syntax {
                line: 1,
                column: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("invalid YAML at line 1, column 4: "),
        "{err}"
    );
    let err = find_ko_references("a: *nope\n").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Syntax {
                line: 1,
                column: 4,
                ..
            }
        ),
        "{err:?}"
    );
    let err = replace_scalars("a:\n  - x\n - y\n", &resolved()).unwrap_err();
    assert!(matches!(err, Error::Syntax { .. }), "{err:?}");
    // Anchors do not reach into the next document.
    let err = find_ko_references("a: &x 1\n---\nb: *x\n").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Syntax {
                line: 3,
                column: 4,
                ..
            }
        ),
        "{err:?}"
    );
    let err = find_ko_references("a: &x [*x]\n").unwrap_err();
    assert!(
        matches!(
            err,
            Error::RecursiveAlias {
                line: 1,
                column: 8,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn ko_manifest_parses_once_and_names_unresolved_references() {
    let text = format!("a: {FOO}\n---\nb: |\n  {BAR}\n");
    let manifest = KoManifest::parse(&text).unwrap();
    assert_eq!(manifest.references(), [FOO, BAR]);
    assert_eq!(
        manifest.resolve(&resolved()).unwrap(),
        format!("a: {FOO_REF}\n---\nb: |-\n  {BAR_REF}\n")
    );
    let only_foo = HashMap::from([(FOO.to_owned(), FOO_REF.to_owned())]);
    let err = manifest.resolve(&only_foo).unwrap_err();
    assert_eq!(
        err,
        Error::Unresolved {
            line: 4,
            column: 3,
            reference: BAR.to_owned()
        }
    );
    assert_eq!(
        err.to_string(),
        format!("line 4, column 3: no resolved image for `{BAR}`")
    );
}

#[test]
fn deep_nesting_and_alias_bombs_do_not_crash() {
    let deep = format!("{}x{}", "[".repeat(300), "]".repeat(300));
    assert!(find_ko_references(&deep).is_err());
    let ok = format!("{}ko://a{}", "[".repeat(200), "]".repeat(200));
    assert_eq!(find_ko_references(&ok).unwrap(), vec!["ko://a"]);
    let mut bomb = String::from("a: &a [ko://x, ko://x]\n");
    for i in 0..30 {
        bomb.push_str(&format!(
            "b{i}: &b{i} [*{}, *{}]\n",
            if i == 0 {
                "a".to_owned()
            } else {
                format!("b{}", i - 1)
            },
            if i == 0 {
                "a".to_owned()
            } else {
                format!("b{}", i - 1)
            }
        ));
    }
    assert_eq!(find_ko_references(&bomb).unwrap(), vec!["ko://x"]);
}
