{{ staged_from('base_ecommerce__orders') }}
