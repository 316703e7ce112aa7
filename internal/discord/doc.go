// Package discord is Mai's Discord front end: the owner's DMs go to the
// chat core as turns, answers stream back as edits of one message (and
// continuation messages past 2000 characters), approvals are embeds the
// owner reacts to, and every outgoing message, edit and reaction goes
// through a persisted outbox so that nothing is lost or sent twice.
package discord
