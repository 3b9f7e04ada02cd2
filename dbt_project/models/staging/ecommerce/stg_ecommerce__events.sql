{{ staged_from('base_ecommerce__events') }}
