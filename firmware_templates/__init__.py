"""Jinja2 templates of the generated files (rendered by `codegen.render`; data, not code)."""
