{{ rejected_from('base_service_desk__contacts', 'contact_id') }}
