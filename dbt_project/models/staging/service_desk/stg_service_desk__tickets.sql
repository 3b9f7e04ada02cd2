{{ staged_from('base_service_desk__tickets') }}
