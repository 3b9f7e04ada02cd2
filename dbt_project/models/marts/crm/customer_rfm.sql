-- RFM scores and segment of every customer with a completed order, as of var rfm_as_of_date
-- (default: the latest order date in the data). Rules in macros/rfm.sql.
with as_of as (
    select {{ rfm_as_of_date() }} as as_of_date
),
{{ rfm_scores('as_of') }}
