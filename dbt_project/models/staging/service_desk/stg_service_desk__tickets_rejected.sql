{{ rejected_from('base_service_desk__tickets', 'ticket_id') }}
