"""Report stage: renderers (pure functions of a ``Report``), i18n, the JSON schema, templates."""
