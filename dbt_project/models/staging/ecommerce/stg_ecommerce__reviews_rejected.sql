{{ rejected_from('base_ecommerce__reviews', 'review_id') }}
