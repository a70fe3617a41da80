//! Token scopes: what one operation asks the token service for.

/// The token scopes one operation needs: sorted, deduplicated.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Scopes(pub(super) Vec<String>);

impl Scopes {
    pub fn pull(repo: &str) -> Scopes {
        Scopes(vec![format!("repository:{repo}:pull")])
    }

    pub fn push(repo: &str) -> Scopes {
        Scopes(vec![format!("repository:{repo}:pull,push")])
    }

    pub fn and_pull(mut self, repo: &str) -> Scopes {
        self.add(format!("repository:{repo}:pull"));
        self
    }

    pub(super) fn add(&mut self, scope: String) {
        if !self.0.contains(&scope) {
            self.0.push(scope);
            self.0.sort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_sorted_and_deduplicated() {
        let s = Scopes::push("b").and_pull("a").and_pull("a");
        assert_eq!(s.0, ["repository:a:pull", "repository:b:pull,push"]);
    }
}
