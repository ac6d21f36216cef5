/**
 * Email backup and fire recovery: a till emails each close's signed entries (MailBackup,
 * message.ts); `recoverFromMail` reads a mailbox and restores the newest chain that
 * verifies; `registerRecoverCommand` adds `tillbooks recover`. See README.md.
 */
export { BACKUP_CONTENT_TYPE, BACKUP_ENTRIES_MAX, BACKUP_EXTENSION, backupOf, buildBackupMessage, decodeBackupPayload, encodeBackupPayload, entriesOf, type BackupInput, type BackupPayload, type BuiltBackup, type MessageOptions } from './message.ts'
export { bodyOf, lastCloseOf, moneyText, subjectOf, takingsOf } from './format.ts'
export { deliverToMaildir, mboxEntry, readMailbox, splitMbox, type MailboxRead, type RawMessage } from './mailbox.ts'
export { parseBackupMessage, parseBackupMessages, type ParsedBackup } from './parse.ts'
export { preloadMailParser } from './preload.ts'
export { recoverFromMail, recoveryJson, type MailRecovery, type MailRejection, type RecoverFromMailOptions, type RestoredTill } from './recover.ts'
export { MailBackup, type MailBackupOptions, type PendingBackup, type QueuedBackup } from './MailBackup.ts'
export { startMaildirSink, type MaildirSink, type MaildirSinkOptions } from './sink.ts'
export { HqClient, HqError, type EntryOutcome } from '../daemon/HqClient.ts'
export { restoreToTillDir, tillDirState, type TillDirRestore } from './restore.ts'
export { registerRecoverCommand } from './recoverCommand.ts'
export { formatRecover, runRecover, type RecoverCommandOptions, type RecoverCommandResult } from './runRecover.ts'
