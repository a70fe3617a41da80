//! sprig's integer and float math (numeric.go and functions.go): lenient conversions
//! (`int64 "12"`), variadic `add`/`mul`/`max`/`min`, rounding and integer ranges.

use gotmpl::Value;

use super::{Func, Result, arity, at_least, fail, int, list, to_float64, to_int64};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("atoi", |a| {
        arity("atoi", a, 1)?;
        Ok(Value::Int(super::text(&a[0]).parse().unwrap_or(0)))
    }),
    ("int", |a| one_int("int", a, to_int64)),
    ("int64", |a| one_int("int64", a, to_int64)),
    ("float64", |a| {
        arity("float64", a, 1)?;
        Ok(Value::Float(to_float64(&a[0])))
    }),
    ("toDecimal", |a| {
        one_int("toDecimal", a, |v| {
            i64::from_str_radix(&super::text(v), 8).unwrap_or(0)
        })
    }),
    ("add1", |a| {
        one_int("add1", a, |v| to_int64(v).wrapping_add(1))
    }),
    ("add", |a| {
        Ok(Value::Int(
            a.iter().map(to_int64).fold(0, i64::wrapping_add),
        ))
    }),
    ("sub", |a| pair("sub", a, |x, y| Ok(x.wrapping_sub(y)))),
    ("div", |a| {
        pair("div", a, |x, y| {
            x.checked_div(y)
                .ok_or_else(|| fail("div: integer divide by zero"))
        })
    }),
    ("mod", |a| {
        pair("mod", a, |x, y| {
            x.checked_rem(y)
                .ok_or_else(|| fail("mod: integer divide by zero"))
        })
    }),
    ("mul", |a| {
        at_least("mul", a, 1, usize::MAX)?;
        Ok(Value::Int(
            a.iter().map(to_int64).fold(1, i64::wrapping_mul),
        ))
    }),
    ("max", |a| extreme("max", a, i64::max)),
    ("biggest", |a| extreme("biggest", a, i64::max)),
    ("min", |a| extreme("min", a, i64::min)),
    ("floor", |a| one_float("floor", a, f64::floor)),
    ("ceil", |a| one_float("ceil", a, f64::ceil)),
    ("round", |a| {
        at_least("round", a, 2, 3)?;
        let places = int("round", &a[1])? as f64;
        let round_on = a.get(2).map_or(0.5, to_float64);
        let pow = 10f64.powf(places);
        let digit = pow * to_float64(&a[0]);
        let rounded = if digit.fract() >= round_on {
            digit.ceil()
        } else {
            digit.floor()
        };
        Ok(Value::Float(rounded / pow))
    }),
    ("until", |a| {
        arity("until", a, 1)?;
        let count = int("until", &a[0])?;
        Ok(range(0, count, if count < 0 { -1 } else { 1 }))
    }),
    ("untilStep", |a| {
        arity("untilStep", a, 3)?;
        Ok(range(
            int("untilStep", &a[0])?,
            int("untilStep", &a[1])?,
            int("untilStep", &a[2])?,
        ))
    }),
];

fn one_int(name: &str, args: &[Value], f: fn(&Value) -> i64) -> Result<Value> {
    arity(name, args, 1)?;
    Ok(Value::Int(f(&args[0])))
}

fn one_float(name: &str, args: &[Value], f: fn(f64) -> f64) -> Result<Value> {
    arity(name, args, 1)?;
    Ok(Value::Float(f(to_float64(&args[0]))))
}

fn pair(name: &str, args: &[Value], f: fn(i64, i64) -> Result<i64>) -> Result<Value> {
    arity(name, args, 2)?;
    f(to_int64(&args[0]), to_int64(&args[1])).map(Value::Int)
}

fn extreme(name: &str, args: &[Value], pick: fn(i64, i64) -> i64) -> Result<Value> {
    at_least(name, args, 1, usize::MAX)?;
    Ok(Value::Int(
        args.iter().map(to_int64).reduce(pick).unwrap_or(0),
    ))
}

/// sprig's `untilStep`: `start`, `start+step`, … up to but excluding `stop`; empty when
/// the step does not lead there.
fn range(start: i64, stop: i64, step: i64) -> Value {
    let mut items = Vec::new();
    let mut i = start;
    if (stop < start && step < 0) || (stop >= start && step > 0) {
        while (step > 0 && i < stop) || (step < 0 && i > stop) {
            items.push(Value::Int(i));
            i += step;
        }
    }
    list(items)
}

#[cfg(test)]
mod tests {
    use super::super::tests::check;

    #[test]
    fn math_functions_give_sprigs_documented_results() {
        // Expected values from sprig's docs (docs/math.md, docs/integer_slice.md).
        check(&[
            (
                r#"{{add 1 2 3}} {{add1 4}} {{sub 5 7}} {{mul 2 3 4}}"#,
                "6 5 -2 24",
            ),
            (
                r#"{{div 7 2}} {{mod 7 2}} {{max 1 9 3}} {{min 4 2 8}} {{biggest 1 5}}"#,
                "3 1 9 2 5",
            ),
            (
                r#"{{floor 1.5}} {{ceil 1.2}} {{round 123.555555 3}} {{round 1.5 0}}"#,
                "1 2 123.556 2",
            ),
            (
                r#"{{until 3}} {{untilStep 3 6 2}} {{untilStep 5 1 -2}}"#,
                "[0 1 2] [3 5] [5 3]",
            ),
            (
                r#"{{atoi "42"}} {{int64 "7"}} {{int "x"}} {{float64 "1.5"}} {{toDecimal "0777"}}"#,
                "42 7 0 1.5 511",
            ),
            (r#"{{add "2" 3}}"#, "5"),
        ]);
        assert!(super::super::tests::render("{{div 1 0}}").contains("divide by zero"));
    }
}
