/** A length of time in milliseconds (branded, so it does not mix up with an `Instant`). */
export type Duration = number & { readonly __brand?: "Duration" };

export const ZERO: Duration = 0;
export const millis = (n: number): Duration => n;
export const seconds = (n: number): Duration => n * 1000;
export const minutes = (n: number): Duration => n * 60_000;
export const hours = (n: number): Duration => n * 3_600_000;
export const days = (n: number): Duration => n * 86_400_000;
