{#- Standardization rules shared by every staging model. Each macro returns a SQL expression,
    so the rules run set-based inside DuckDB and are unit-tested once (the dbt unit test
    test_standardizes_emails_phones_and_local_time on base_erp__members, in
    models/staging/_staging__models.yml) instead of once per source. -#}

{#- Empty or whitespace-only text is NULL. -#}
{% macro clean_text(expr) -%}
    nullif(trim({{ expr }}), '')
{%- endmacro %}

{#- E-mail: trimmed, lower-case; NULL when it does not look like local@domain.tld. -#}
{% macro normalize_email(expr) -%}
    case
        when regexp_full_match(lower(trim({{ expr }})), '[^@\s]+@[^@\s]+\.[a-z]{2,}')
            then lower(trim({{ expr }}))
    end
{%- endmacro %}

{#- Phone to E.164 (+<country><number>). Extensions (x12, ext. 12) are dropped, separators
    removed. Numbers without a country prefix get the prefix of `country_expr` (ISO alpha-2;
    default: the company's home country, see home_country()): 10-digit North American numbers -> +1, 11-digit
    Chinese mobiles 1[3-9]x -> +86. Anything else is NULL (unparseable), never guessed. -#}
{% macro normalize_phone(expr, country_expr=none) -%}
    {%- set country -%}
        upper(coalesce({{ country_expr if country_expr else 'null' }}, {{ home_country() }}))
    {%- endset -%}
    {%- set raw -%}regexp_replace(lower(trim({{ expr }})), '\s*(ext\.?|x|#)\s*\d+$', ''){%- endset -%}
    {%- set digits -%}regexp_replace({{ raw }}, '[^0-9]', '', 'g'){%- endset -%}
    case
        when {{ expr }} is null or {{ digits }} = '' then null
        when starts_with(ltrim({{ raw }}), '+') or starts_with({{ digits }}, '00') then
            case
                when regexp_full_match(ltrim({{ digits }}, '0'), '1[2-9]\d{9}|86\d{9,11}|[2-9]\d{7,13}')
                    then '+' || ltrim({{ digits }}, '0')
            end
        when {{ country }} in ('US', 'CA') and regexp_full_match({{ digits }}, '[2-9]\d{9}')
            then '+1' || {{ digits }}
        when {{ country }} in ('US', 'CA') and regexp_full_match({{ digits }}, '1[2-9]\d{9}')
            then '+' || {{ digits }}
        when {{ country }} = 'CN' and regexp_full_match({{ digits }}, '1[3-9]\d{9}')
            then '+86' || {{ digits }}
        when {{ country }} = 'CN' and regexp_full_match({{ digits }}, '861[3-9]\d{9}')
            then '+' || {{ digits }}
        when {{ country }} = 'CN' and regexp_full_match({{ digits }}, '0[1-9]\d{8,10}')
            then '+86' || substr({{ digits }}, 2)
    end
{%- endmacro %}

{#- Naive local source time (CRMW_SOURCE_TIMEZONE) -> naive UTC timestamp. -#}
{% macro local_to_utc(expr) -%}
    (({{ expr }}) at time zone '{{ var("source_timezone") }}') at time zone 'UTC'
{%- endmacro %}

{#- Parse delivered local-time text; NULL when unparseable. -#}
{% macro parse_local_ts(expr) -%}
    {{ local_to_utc('try_cast(trim(' ~ expr ~ ') as timestamp)') }}
{%- endmacro %}

{#- Parse ISO-8601 UTC text (with Z or offset) to a naive UTC timestamp. -#}
{% macro parse_utc_ts(expr) -%}
    (try_cast(trim({{ expr }}) as timestamptz) at time zone 'UTC')
{%- endmacro %}

{#- A calendar date as delivered (YYYY-MM-DD, also YYYY/MM/DD); NULL when impossible. -#}
{% macro parse_date(expr) -%}
    coalesce(try_cast(trim({{ expr }}) as date),
             try_strptime(trim({{ expr }}), '%Y/%m/%d')::date)
{%- endmacro %}

{#- Money as delivered: thousands separators and currency symbols removed. -#}
{% macro parse_amount(expr) -%}
    try_cast(regexp_replace(trim({{ expr }}), '[,\s$¥€£]', '', 'g') as decimal(18, 4))
{%- endmacro %}

{#- Integers as delivered ("3", "3.0"); NULL when not a whole number. -#}
{% macro parse_int(expr) -%}
    case when try_cast(trim({{ expr }}) as double) = floor(try_cast(trim({{ expr }}) as double))
         then try_cast(try_cast(trim({{ expr }}) as double) as bigint) end
{%- endmacro %}

{#- 1/0, true/false, yes/no, y/n -> BOOLEAN; NULL otherwise. -#}
{% macro parse_bool(expr) -%}
    case lower(trim({{ expr }}))
        when '1' then true when 'true' then true when 'yes' then true when 'y' then true
        when 't' then true
        when '0' then false when 'false' then false when 'no' then false when 'n' then false
        when 'f' then false
    end
{%- endmacro %}

{#- Convert an amount in `currency_expr` to the reporting currency with seed fx_rates
    (joined as `fx` and `fx_report` by the caller through fx_join). -#}
{% macro to_reporting_currency(amount_expr, fx_alias='fx') -%}
    round(({{ amount_expr }}) * {{ fx_alias }}.usd_per_unit / fx_report.usd_per_unit, 2)::decimal(18, 2)
{%- endmacro %}

{% macro fx_join(currency_expr, fx_alias='fx') -%}
    left join {{ ref('fx_rates') }} as {{ fx_alias }}
        on {{ fx_alias }}.currency_code = upper(trim({{ currency_expr }}))
    cross join (
        select usd_per_unit from {{ ref('fx_rates') }}
        where currency_code = '{{ var("reporting_currency") }}'
    ) as fx_report
{%- endmacro %}

{#- Lineage columns carried from raw into every staged and rejected row. -#}
{% macro lineage_columns(alias='src') -%}
    {{ alias }}._source_system, {{ alias }}._source_object, {{ alias }}._source_row_number,
    {{ alias }}._batch_id, {{ alias }}._extracted_at
{%- endmacro %}

{#- The company's home country: the country of most of its stores (seed-free, so the same
    project serves the US and the Chinese demo). Numbers typed without a country prefix and
    records without an address are taken to be in it. -#}
{% macro home_country() -%}
    (select coalesce(mode(country_code), 'US') from {{ ref('stg_erp__stores') }})
{%- endmacro %}
