{{ rejected_from('base_service_desk__surveys', 'response_id') }}
