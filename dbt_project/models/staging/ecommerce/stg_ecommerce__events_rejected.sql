{{ rejected_from('base_ecommerce__events', 'event_id') }}
