import assert from 'node:assert/strict'
import { CatalogueError } from '../../src/index.ts'

type ErrorClass = abstract new (...args: never[]) => Error

/** `fn` throws an `Err` that is a CatalogueError, carries its class's name, and says `message`. */
export function throwsNamed (fn: () => unknown, Err: ErrorClass, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Err, `expected ${Err.name}, got ${String(err)}`)
    assert.ok(err instanceof CatalogueError, 'every expected failure is a CatalogueError')
    assert.equal(err.name, Err.name)
    assert.match(err.message, message)
    return true
  })
}
