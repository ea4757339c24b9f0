import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { WrennConfig } from '@wrenn/config';
import { CONFIG, DATA_SOURCE } from '@wrenn/service-kit';
import { DataSource } from 'typeorm';
import { SlidingWindows } from './sliding-window';

/**
 * Sliding-window budgets for the two public calls that cost an scrypt hash, in PostgreSQL so
 * every gateway and auth replica counts together. Every budget is taken before any hash runs:
 * a refused call costs one upsert per bucket, never a hash.
 *
 * Login is keyed by the client address, by the account *from that address* (so guessing one
 * account is slow, while someone else's guesses do not lock its owner out on their own address)
 * and by the account overall at ten times that (so guesses spread over many addresses stay
 * bounded). Signup is keyed by address and by email.
 */
@Injectable()
export class LoginRateLimiter implements OnApplicationBootstrap, OnApplicationShutdown {
  private sweeper?: NodeJS.Timeout;
  private readonly windows: SlidingWindows;

  constructor(
    @Inject(DATA_SOURCE) ds: DataSource,
    @Inject(CONFIG) private readonly config: WrennConfig,
  ) {
    this.windows = new SlidingWindows(ds);
  }

  onApplicationBootstrap(): void {
    this.sweeper = setInterval(() => void this.windows.sweep().catch(() => undefined), 60_000);
    this.sweeper.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweeper);
  }

  sweep(): Promise<void> {
    return this.windows.sweep();
  }

  /** Counts one login attempt; throws `rate_limited` (with retry_after_sec) when a budget is spent. */
  async attempt(email: string, address: string): Promise<void> {
    const { loginWindowSec: windowSec, loginMaxPerEmail, loginMaxPerAddress } = this.config.auth;
    await this.windows.hit([
      { bucket: `login:addr:${address}`, windowSec, max: loginMaxPerAddress },
      { bucket: `login:acct-addr:${email}|${address}`, windowSec, max: loginMaxPerEmail },
      { bucket: `login:acct:${email}`, windowSec, max: loginMaxPerEmail * 10 },
    ], 'login attempts');
  }

  /** A successful login clears its account's counter on that address (the rest keep counting). */
  async succeeded(email: string, address: string): Promise<void> {
    await this.windows.clear(`login:acct-addr:${email}|${address}`);
  }

  /** Counts one signup; throws `rate_limited` before any hash is computed. */
  async signup(email: string, address: string): Promise<void> {
    const { signupWindowSec: windowSec, signupMaxPerAddress, signupMaxPerEmail } = this.config.edge;
    await this.windows.hit([
      { bucket: `signup:addr:${address}`, windowSec, max: signupMaxPerAddress },
      { bucket: `signup:acct:${email}`, windowSec, max: signupMaxPerEmail },
    ], 'signups');
  }
}
