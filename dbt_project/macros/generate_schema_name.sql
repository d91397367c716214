{# Layers are schemas: a model's configured schema is used as is (raw, staging, marts, bi). #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
