-- Recipient rows are looked up by message (read receipts, a retried save,
-- a history cursor) and read by (recipient_id, seq) (history pages, stream
-- resumes). The unique index leads with message_id now: a broadcast's rows
-- go in together at the index's right edge, where keyed by recipient first
-- each went into another part of the tree. Pods of the previous release
-- still page history by message id while an upgrade rolls; their pages stay
-- right (read through (recipient_id, seq) and sorted), only slower, until
-- they are replaced. IF [NOT] EXISTS: a database adopted from the automatic
-- migration of earlier releases may have either index already.
CREATE UNIQUE INDEX IF NOT EXISTS `messagerecipient_message_id_recipient_id` ON `message_recipients` (`message_id`, `recipient_id`);
DROP INDEX IF EXISTS `messagerecipient_recipient_id_message_id`;
