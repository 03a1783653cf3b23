-- Create "messages" table
CREATE TABLE `messages` (`id` text NOT NULL, `body` text NOT NULL, `broadcast` bool NOT NULL DEFAULT (false), `client_id` text NULL, `created_at` datetime NOT NULL, `sender_seq` integer NOT NULL DEFAULT (0), `to_id` integer NULL, `sender_id` integer NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `messages_users_to` FOREIGN KEY (`to_id`) REFERENCES `users` (`id`) ON DELETE SET NULL, CONSTRAINT `messages_users_sent` FOREIGN KEY (`sender_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Create index "message_sender_id_id" to table: "messages"
CREATE INDEX `message_sender_id_id` ON `messages` (`sender_id`, `id`);
-- Create index "message_sender_id_client_id" to table: "messages"
CREATE UNIQUE INDEX `message_sender_id_client_id` ON `messages` (`sender_id`, `client_id`);
-- Create index "message_sender_id_sender_seq" to table: "messages"
CREATE INDEX `message_sender_id_sender_seq` ON `messages` (`sender_id`, `sender_seq`);
-- Create "message_recipients" table
CREATE TABLE `message_recipients` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `read_at` datetime NULL, `seq` integer NOT NULL DEFAULT (0), `created_at` datetime NOT NULL, `message_id` text NOT NULL, `recipient_id` integer NOT NULL, CONSTRAINT `message_recipients_messages_recipients` FOREIGN KEY (`message_id`) REFERENCES `messages` (`id`) ON DELETE NO ACTION, CONSTRAINT `message_recipients_users_received` FOREIGN KEY (`recipient_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Create index "messagerecipient_recipient_id_message_id" to table: "message_recipients"
CREATE UNIQUE INDEX `messagerecipient_recipient_id_message_id` ON `message_recipients` (`recipient_id`, `message_id`);
-- Create index "messagerecipient_recipient_id_seq" to table: "message_recipients"
CREATE INDEX `messagerecipient_recipient_id_seq` ON `message_recipients` (`recipient_id`, `seq`);
-- Create "users" table
CREATE TABLE `users` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `username` text NOT NULL, `username_key` text NOT NULL, `email` text NOT NULL, `password_hash` text NOT NULL, `usercode` text NOT NULL, `created_at` datetime NOT NULL, `admin` bool NOT NULL DEFAULT (false), `last_seq` integer NOT NULL DEFAULT (0), `last_seen_at` datetime NULL);
-- Create index "users_username_key_key" to table: "users"
CREATE UNIQUE INDEX `users_username_key_key` ON `users` (`username_key`);
-- Create index "users_usercode_key" to table: "users"
CREATE UNIQUE INDEX `users_usercode_key` ON `users` (`usercode`);
-- Create index "user_usercode" to table: "users"
CREATE INDEX `user_usercode` ON `users` (`usercode`);
