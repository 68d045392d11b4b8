/** Ends an exhaustive `switch` over a discriminated union: adding a case without handling it is a compile error. */
export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
