{{ rejected_from('base_ecommerce__sessions', 'session_id') }}
