{#- The only forms of personal data allowed in BI-facing schemas (marts, ml, quality).
    Python twins in warehouse/pii/crypto.py; tests/pii/test_pii_macros.py proves they agree.

    pseudonymize(expr): HMAC-SHA256 (hex) of the value under the pseudonymization key from
    CRMW_PSEUDONYM_KEY (64 hex digits; `crm-warehouse` exports it from data/pseudonym.key,
    see warehouse/pii/keys.py). HMAC, not sha256(secret || value): the standard construction,
    so any tool holding the key computes the same pseudonym. Callers pass normalized values
    (lower-cased e-mail, E.164 phone, a source id as staged text) so the same person hashes
    alike in every source. Every person id a BI-facing table carries goes through it: e-mail,
    phone and the ids the source systems know the person by (member, web account, service
    contact: dim_customer.*_id_hashes, fct_*.*_id_hash); warehouse/publish.py refuses raw ones. -#}

{#- A development key for a dbt run started without the environment (e.g. `dbt parse` or a
    dbt-only test). It is public, so pseudonyms made with it protect nothing: the pipeline
    always exports the real key, and dbt logs a warning whenever this one is used. -#}
{% macro _pii_development_key() -%}
    {{ return('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff') }}
{%- endmacro %}

{#- HMAC's inner and outer padded keys (key xor 0x36 / 0x5c, zero-padded to 64 bytes), as hex.
    Computed once at compile time; Jinja has no xor, so it is done bit by bit. -#}
{% macro _pii_hmac_pads() -%}
    {%- set key_hex = env_var('CRMW_PSEUDONYM_KEY', '') | trim -%}
    {%- if not key_hex -%}
        {%- if execute -%}
            {{ log("WARNING: CRMW_PSEUDONYM_KEY is not set; pseudonymize() uses the public "
                   ~ "development key. Run through crm-warehouse (it exports the real key).",
                   info=True) }}
        {%- endif -%}
        {%- set key_hex = _pii_development_key() -%}
    {%- endif -%}
    {%- if key_hex | length is odd or key_hex | length > 128 or key_hex | length < 32 -%}
        {{ exceptions.raise_compiler_error(
            "CRMW_PSEUDONYM_KEY must be 32 to 128 hex digits (16 to 64 bytes); got "
            ~ (key_hex | length) ~ " characters") }}
    {%- endif -%}
    {%- set ns = namespace(ipad='', opad='') -%}
    {%- for i in range(64) -%}
        {%- set byte = (key_hex[2 * i: 2 * i + 2] | int(-1, 16)) if 2 * i < key_hex | length else 0 -%}
        {%- if byte < 0 -%}
            {{ exceptions.raise_compiler_error("CRMW_PSEUDONYM_KEY holds a non-hex character") }}
        {%- endif -%}
        {%- set bits = namespace(i=0, o=0) -%}
        {%- for bit in range(8) -%}
            {%- set b = (byte // (2 ** bit)) % 2 -%}
            {%- set bits.i = bits.i + ((b + ((54 // (2 ** bit)) % 2)) % 2) * (2 ** bit) -%}
            {%- set bits.o = bits.o + ((b + ((92 // (2 ** bit)) % 2)) % 2) * (2 ** bit) -%}
        {%- endfor -%}
        {%- set ns.ipad = ns.ipad ~ '%02x' | format(bits.i) -%}
        {%- set ns.opad = ns.opad ~ '%02x' | format(bits.o) -%}
    {%- endfor -%}
    {{ return([ns.ipad, ns.opad]) }}
{%- endmacro %}

{% macro pseudonymize(expr) -%}
    {%- set pads = _pii_hmac_pads() -%}
    case when ({{ expr }}) is not null
         then sha256(unhex('{{ pads[1] }}')
                     || unhex(sha256(unhex('{{ pads[0] }}') || encode(({{ expr }})::varchar))))
    end
{%- endmacro %}

{#- j***@example.com: first character and domain kept. A value without '@' becomes '***',
    so an unparseable e-mail can never leak through the mask. -#}
{% macro mask_email(expr) -%}
    case
        when ({{ expr }}) is null then null
        when position('@' in trim({{ expr }})) <= 1 then '***'
        else left(trim({{ expr }}), 1) || '***@'
             || regexp_extract(trim({{ expr }}), '@([^@]*)$', 1)
    end
{%- endmacro %}

{#- +1******4567: '+' and country prefix (1, 86, or two digits) kept when the phone starts
    with '+', the last four digits kept, every other digit starred; formatting dropped.
    Fewer than 7 digits becomes '***'. -#}
{% macro mask_phone(expr) -%}
    case
        when ({{ expr }}) is null then null
        when length(regexp_replace({{ expr }}, '[^0-9]', '', 'g')) < 7 then '***'
        else (case when starts_with(trim({{ expr }}), '+')
                   then '+' || regexp_extract('+' || regexp_replace({{ expr }}, '[^0-9]', '', 'g'),
                                              '^\+(1|86|\d{2})', 1)
                   else '' end)
             || repeat('*', length(regexp_replace({{ expr }}, '[^0-9]', '', 'g'))
                            - (case when starts_with(trim({{ expr }}), '+')
                                    then length(regexp_extract(
                                        '+' || regexp_replace({{ expr }}, '[^0-9]', '', 'g'),
                                        '^\+(1|86|\d{2})', 1))
                                    else 0 end)
                            - 4)
             || right(regexp_replace({{ expr }}, '[^0-9]', '', 'g'), 4)
    end
{%- endmacro %}
