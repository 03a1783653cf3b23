-- set-based multi-row insert: one broadcast message + 1000 recipient rows (no 1000-tuple VALUES list to parse)
\set sid random(1, 1000)
INSERT INTO messages (id, sender_id, to_id, body, broadcast, client_id, created_at) VALUES (gen_random_uuid()::text, :sid, NULL, 'broadcast body', true, gen_random_uuid()::text, now()) RETURNING id AS mid \gset
INSERT INTO message_recipients (message_id, recipient_id, created_at) SELECT ':mid', g, now() FROM generate_series(1, 1000) g;
