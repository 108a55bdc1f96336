impl super::Filter { pub fn matches_element(&self, _p: &crate::schema::Attribute, _e: &serde_json::Value) -> bool { false } }
