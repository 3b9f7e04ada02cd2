-- Tickets typed (local time -> UTC) and classified; every change re-exports the ticket, the
-- latest export wins and earlier ones are superseded.
with src as (
    select * from {{ source('raw_service', 'tickets') }}
),

typed as (
    select
        {{ clean_text('src.ticket_id') }} as ticket_id,
        {{ clean_text('src.contact_id') }} as contact_id,
        lower({{ clean_text('src.channel') }}) as channel,
        lower({{ clean_text('src.category') }}) as category,
        lower({{ clean_text('src.priority') }}) as priority,
        lower({{ clean_text('src.status') }}) as status,
        {{ parse_local_ts('src.created_at') }} as created_at,
        {{ parse_local_ts('src.first_response_at') }} as first_response_at,
        {{ parse_local_ts('src.resolved_at') }} as resolved_at,
        {{ clean_text('src.order_ref') }} as order_ref,
        {{ clean_text('src.subject') }} as subject,
        {{ parse_local_ts('src.updated_at') }} as updated_at,
        (
            {{ clean_text('src.first_response_at') }} is not null
            and {{ parse_local_ts('src.first_response_at') }} is null
        )
        or (
            {{ clean_text('src.resolved_at') }} is not null
            and {{ parse_local_ts('src.resolved_at') }} is null
        ) as _bad_optional_ts,
        {{ row_hash(['ticket_id', 'contact_id', 'channel', 'category', 'priority', 'status',
                     'created_at', 'first_response_at', 'resolved_at', 'order_ref', 'subject',
                     'updated_at']) }} as _row_hash,
        {{ raw_row() }},
        {{ lineage_columns() }}
    from src
),

checked as (
    select
        * exclude (_bad_optional_ts),
        case
            when ticket_id is null then 'MISSING_KEY'
            when created_at is null or updated_at is null or _bad_optional_ts then 'INVALID_DATE'
            when
                first_response_at < created_at or resolved_at < created_at
                or {{ implausible_ts('created_at') }}
                or {{ implausible_ts('first_response_at') }}
                or {{ implausible_ts('resolved_at') }}
                or {{ implausible_ts('updated_at') }}
                then 'IMPOSSIBLE_DATE'
            when
                channel not in ('email', 'phone', 'chat', 'web_form') or channel is null
                or category not in (
                    'delivery', 'refund', 'product_quality', 'billing', 'account',
                    'other'
                ) or category is null
                or priority not in ('low', 'normal', 'high', 'urgent') or priority is null
                or status not in ('open', 'pending', 'resolved', 'closed') or status is null
                then 'UNKNOWN_CODE'
        end as _reject_reason
    from typed
),

{{ classify_rows('checked', key='ticket_id', version='updated_at') }}
