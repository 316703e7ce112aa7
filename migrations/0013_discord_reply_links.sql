-- What each streamed answer stands for in the chat core's memory, so that
-- a DM replying to an earlier message (the owner's or one of Mai's
-- answers) is answered from that message's reply chain: the owner's DM
-- an answer answers, the stored message it replied to, and the stored ids
-- of the message and of its answer once the answer is done.
ALTER TABLE discord_replies ADD COLUMN dm_id TEXT NOT NULL DEFAULT '';         -- the owner's DM, '' for a ▶️ run or a command's reply
ALTER TABLE discord_replies ADD COLUMN parent_id INTEGER NOT NULL DEFAULT 0;   -- memory: the message the DM replies to, 0 for none
ALTER TABLE discord_replies ADD COLUMN message_id INTEGER NOT NULL DEFAULT 0;  -- memory: the DM as stored
ALTER TABLE discord_replies ADD COLUMN answer_id INTEGER NOT NULL DEFAULT 0;   -- memory: its answer

CREATE INDEX discord_replies_dm ON discord_replies (dm_id) WHERE dm_id != '';
