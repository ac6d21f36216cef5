/**
 * @tillbooks/members: members known by a random id (never a phone number in a till's log), and
 * points redeemed offline within rights HQ escrows to each till, never overspent under any
 * partition, fire or fork. Pure: no I/O.
 */
export * from './constants.ts'
export * from './errors.ts'
export * from './member.ts'
export * from './rights.ts'
export * from './vesting.ts'
