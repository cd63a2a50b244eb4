"""HTTP-facing rules: RFC 6750 parsing and challenges, responses, RFC 9728 metadata, step-up."""
