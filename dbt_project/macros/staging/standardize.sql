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

{#- The one plausibility rule for every event timestamp of every source (orders, order lines,
    returns, members, accounts, sessions, events, reviews, contacts, tickets, surveys; both
    the business time and updated_at): TRUE when the parsed, UTC timestamp `expr` is before
    var earliest_valid_date (legacy placeholders such as 1900-01-01) or more than a day after
    the row's extraction (9999-12-31, years ahead). The caller rejects the row with
    IMPOSSIBLE_DATE. NULL (unparseable or absent) is not implausible: INVALID_DATE or the
    column's own rule decides. Birth dates have their own rule (plausible_birth_date). -#}
{% macro implausible_ts(expr, extracted_at='_extracted_at') -%}
    (
        {{ expr }} < cast('{{ var("earliest_valid_date") }}' as timestamp)
        or {{ expr }} > {{ extracted_at }} + interval 1 day
    )
{%- endmacro %}

{#- Birth dates, ERP members and web accounts alike: a delivered date between 1900-01-01 and
    the day of extraction is kept; any other (impossible, such as 1987-02-30, or implausible)
    is NULL, and birth_date_issue names why for data_issues: the person stays (an attribute
    defect never drops a customer, whose orders would be orphaned). -#}
{% macro plausible_birth_date(expr, extracted_at='src._extracted_at') -%}
    case
        when {{ parse_date(expr) }} between date '1900-01-01' and {{ extracted_at }}::date
            then {{ parse_date(expr) }}
    end
{%- endmacro %}

{% macro birth_date_issue(expr, extracted_at='src._extracted_at') -%}
    case
        when {{ clean_text(expr) }} is not null and {{ parse_date(expr) }} is null
            then 'INVALID_DATE'
        when {{ parse_date(expr) }} not between date '1900-01-01' and {{ extracted_at }}::date
            then 'IMPOSSIBLE_DATE'
    end
{%- endmacro %}

{#- Money as delivered, in the decimal convention declared for its source system (var
    amount_decimal_separator: {erp: '.', ecommerce: '.'}, '.' for a system not listed; a
    single value applies to every system; anything but '.' or ',' fails compilation). The
    one parser of every money column of every source; NULL (the caller rejects the row with
    UNPARSEABLE_AMOUNT) unless the text, trimmed and without a currency symbol ($ ¥ € £), is
      [+-] digits [<decimal separator> digits], or
      [+-] 1-3 digits (<group separator> 3 digits)+ [<decimal separator> digits]
    where the group separator is the other of '.' and ','. So under '.', "1,234.50" is
    1234.50 and "1,234" is 1234 (unambiguous thousands grouping), while "12,50", "1.234,50",
    "1,23,456" and "12 50" are rejected: a value is parsed exactly or not at all, never
    re-scaled by dropping a separator. JSON numbers always arrive '.'-decimal ("12.5"): a
    JSON source may declare ',' only if it delivers its amounts as strings. -#}
{% macro parse_amount(expr, source_system) -%}
    {%- set separators = var('amount_decimal_separator') -%}
    {#- a mapping per source system, or one separator for all (--vars) -#}
    {%- set decimal = separators.get(source_system, '.') if separators is mapping
        else separators | string -%}
    {%- if decimal not in ('.', ',') -%}
        {{ exceptions.raise_compiler_error(
            "var amount_decimal_separator: '" ~ decimal ~ "' for " ~ source_system
            ~ " is not '.' or ','") }}
    {%- endif -%}
    {%- set group = ',' if decimal == '.' else '.' -%}
    {%- set d = '\\.' if decimal == '.' else ',' -%}
    {%- set g = '\\.' if group == '.' else ',' -%}
    {%- set text -%}trim(regexp_replace(trim({{ expr }}), '[$¥€£]', '', 'g')){%- endset -%}
    case
        when regexp_full_match(
            {{ text }}, '[+-]?(\d+|\d{1,3}({{ g }}\d{3})+)({{ d }}\d+)?|[+-]?{{ d }}\d+'
        )
            then try_cast(replace(replace({{ text }}, '{{ group }}', ''), '{{ decimal }}', '.')
                as decimal(18, 4))
    end
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
