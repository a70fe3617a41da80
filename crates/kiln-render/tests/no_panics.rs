//! Every entry point returns (text or a typed error) on mangled input, never panics, and a
//! splice with nothing to replace returns the input unchanged.

use std::collections::HashMap;

use kiln_render::{
    Build, DebugOptions, ImageInfo, debug_transform, find_ko_references, replace_images,
    replace_scalars, set_labels, set_namespace,
};

const SEEDS: &[&str] = &[
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p # c\nspec:\n  containers:\n  - name: app\n    image: ko://example.com/app\n    command: [app, \"x y\"]\n    env: [{name: GOGC, value: 'off'}]\n    ports: [{name: http, containerPort: 8080}]\n    livenessProbe: {httpGet: {port: 8080}}\n",
    "a: &x |\n  ko://a\n  b\nb: *x\nc: >-\n  folded\n? [k]\n: v\n<<: {m: 1}\n",
    "--- !!map\n- &a [1, 2]\n- *a\n- {\"q\": 'r', ? s : t}\n...\n%YAML 1.2\n---\n\"é\\u00e9\": \t\n",
    "apiVersion: v1\nkind: Service\nmetadata: &m\n  name: s\n  namespace: ''\nspec:\n  selector: *m\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {<<: {namespace: }, name: j}\n",
    "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s, labels: &l {app: s}}\nspec:\n  selector: {matchLabels: *l}\n  template:\n    metadata:\n      labels:\n        <<: *l\n        skaffold.dev/run-id: old\n  volumeClaimTemplates:\n  - metadata: {name: d}\n",
    "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n      - image: app\n        command: [/bin/sh, -c, \"app --x 'a b'\"]\n        env:\n        - {name: KO_DATA_PATH, value: /var/run/ko}\n",
];

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ALPHABET: &[char] = &[
    ' ', '\n', '\t', '-', ':', '#', '&', '*', '!', '|', '>', '\'', '"', '[', ']', '{', '}', ',',
    '?', '%', '@', '`', '\\', 'a', 'k', 'o', '/', '1', '.', 'é', '\r', '~',
];

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for _ in 0..=rng.below(6) {
        let at = rng.below(chars.len() + 1);
        match rng.below(3) {
            0 if at < chars.len() => {
                chars.remove(at);
            }
            1 if at < chars.len() => chars[at] = ALPHABET[rng.below(ALPHABET.len())],
            _ => chars.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
        }
    }
    chars.into_iter().collect()
}

#[test]
fn mangled_input_never_panics() {
    let map = HashMap::from([
        (
            "ko://example.com/app".to_owned(),
            "reg/app@sha256:00".to_owned(),
        ),
        ("ko://a\nb\n".to_owned(), "x".to_owned()),
        ("app".to_owned(), "reg/app:v1".to_owned()),
    ]);
    let builds = [Build {
        image_name: "app".to_owned(),
        tag: "reg/app:v1".to_owned(),
    }];
    let images = [ImageInfo {
        artifact: "app".to_owned(),
        reference: "ko://example.com/app".to_owned(),
        entrypoint: vec!["/ko-app/app".to_owned()],
        env: vec!["KO_DATA_PATH=/var/run/ko".to_owned(), "NOEQUALS".to_owned()],
        ..Default::default()
    }];
    let options = DebugOptions::default();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..4000 {
        let seed = SEEDS[round % SEEDS.len()];
        let text = if round < SEEDS.len() {
            seed.to_owned()
        } else {
            mutate(&mut rng, seed)
        };
        let _ = find_ko_references(&text);
        let _ = replace_scalars(&text, &map);
        let _ = replace_images(&text, &builds);
        if let Ok(out) = debug_transform(&text, &images, &options) {
            // Whatever the transform writes must parse again.
            assert!(find_ko_references(&out).is_ok(), "{text:?}\n=>\n{out}");
        }
        if let Ok(out) = replace_scalars(&text, &map) {
            assert!(find_ko_references(&out).is_ok(), "{text:?}\n=>\n{out}");
        }
        if let Ok(out) = replace_images(&text, &builds) {
            assert!(find_ko_references(&out).is_ok(), "{text:?}\n=>\n{out}");
        }
        if let Ok(out) = set_namespace(&text, "team-a") {
            assert!(
                find_ko_references(&out.text).is_ok(),
                "{text:?}\n=>\n{}",
                out.text
            );
            // Every namespace it sets reads back: a second pass changes nothing.
            let again = set_namespace(&out.text, "team-a").expect("its own output");
            assert_eq!(again.text, out.text, "{text:?}");
        }
        let labels = std::collections::BTreeMap::from([
            ("skaffold.dev/run-id".to_owned(), "0a1b".to_owned()),
            ("team".to_owned(), "a: b".to_owned()),
        ]);
        if let Ok(out) = set_labels(&text, &labels) {
            assert!(find_ko_references(&out).is_ok(), "{text:?}\n=>\n{out}");
            // Every label it sets reads back: a second pass changes nothing.
            let again = set_labels(&out, &labels).expect("its own output");
            assert_eq!(again, out, "{text:?}");
        }
        // Nothing to replace: the exact input comes back.
        if let Ok(out) = replace_scalars(&text, &HashMap::new()) {
            assert_eq!(out, text);
        }
    }
}
