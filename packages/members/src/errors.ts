/** Bad input about members and points: refused with a reason, nothing changed. */
export class MembersError extends Error {
  override name = 'MembersError'
}

/** A debit (redemption, transfer out, return) beyond the rights the till's own log shows: never written. */
export class BeyondRightsError extends MembersError {
  override name = 'BeyondRightsError'
  readonly member: string
  readonly rights: number
  readonly asked: number
  constructor (member: string, rights: number, asked: number) {
    super(`${asked} points asked of member ${member}: this till holds rights to ${rights}`)
    this.member = member
    this.rights = rights
    this.asked = asked
  }
}
