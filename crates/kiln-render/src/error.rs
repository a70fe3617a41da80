//! The one error type of this crate. Every variant names the line and column (both 1-based)
//! of the input where the problem is.

/// Why a manifest could not be rewritten.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not YAML.
    #[error("invalid YAML at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// An alias refers to the node that contains it (`a: &x [*x]`), which no Kubernetes
    /// object can be; yaml.v3 rejects it too.
    #[error("line {line}, column {column}: alias `*{name}` refers to a node that contains it")]
    RecursiveAlias {
        line: usize,
        column: usize,
        name: String,
    },
    /// Aliases expand to more nodes than a manifest plausibly has ("billion laughs").
    #[error(
        "line {line}, column {column}: aliases in this document expand to more than {limit} nodes"
    )]
    AliasExpansion {
        line: usize,
        column: usize,
        limit: usize,
    },
    /// A document that Skaffold reads as a Kubernetes object is not a mapping with scalar keys
    /// (Skaffold fails the same way: `reading Kubernetes YAML: ...`).
    #[error("line {line}, column {column}: a Kubernetes manifest must be a mapping, found {found}")]
    NotAMapping {
        line: usize,
        column: usize,
        found: String,
    },
    /// A mapping repeats a key; go-yaml v3, which Skaffold reads manifests with, rejects it
    /// (`mapping key "x" already defined at line N`).
    #[error(
        "line {line}, column {column}: mapping key `{key}` already defined at line {first_line}"
    )]
    DuplicateKey {
        line: usize,
        column: usize,
        key: String,
        first_line: usize,
    },
    /// A `<<` merge key whose value is not a mapping or a sequence of mappings; go-yaml v3,
    /// which Skaffold reads manifests with, rejects it (`map merge requires map or sequence
    /// of maps as the value`).
    #[error(
        "line {line}, column {column}: merge key `<<` needs a mapping or a sequence of mappings"
    )]
    BadMerge { line: usize, column: usize },
    /// A document, line, value or nesting over the reader's limits (a pasted blob, a runaway
    /// generator); the message quotes only a short excerpt.
    #[error("line {line}, column {column}: {message}")]
    TooLarge {
        line: usize,
        column: usize,
        message: String,
    },
    /// `-n`'s namespace cannot go into a manifest Skaffold sets it in: its `metadata` is
    /// not a mapping (Skaffold fails the same way: `setting namespace in manifests: ...`).
    #[error("line {line}, column {column}: setting namespace in manifests: {message}")]
    SetNamespace {
        line: usize,
        column: usize,
        message: String,
    },
    /// A manifest that needs labels cannot be written out again with them (Skaffold would
    /// fail reading it: `setting labels in manifests: ...`).
    #[error("line {line}, column {column}: setting labels in manifests: {message}")]
    SetLabels {
        line: usize,
        column: usize,
        message: String,
    },
    /// A `ko://` reference has no entry in the map of resolved references.
    #[error("line {line}, column {column}: no resolved image for `{reference}`")]
    Unresolved {
        line: usize,
        column: usize,
        reference: String,
    },
}
