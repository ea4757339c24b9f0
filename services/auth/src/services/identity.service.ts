import { Injectable } from '@nestjs/common';
import {
  Aggregate,
  ErrorCode,
  IdentityEvent,
  LoginRequest,
  LoginResult,
  MeRequest,
  MeResult,
  SignupRequest,
  SignupResult,
  WrennError,
} from '@wrenn/contracts';
import { ulid } from 'ulid';
import { decoyHash, hashPassword, verifyPassword } from '../crypto/password-hasher';
import { OutboxRelay } from '../outbox/outbox.relay';
import { LoginRateLimiter } from '../rate-limit/login-rate-limiter';
import { IdentityOutboxRepository } from '../repositories/identity-outbox.repository';
import { IdentityRepository } from '../repositories/identity.repository';
import { JwtIssuer } from '../tokens/jwt-issuer';

/** Emails compare case-insensitively; the stored form is trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Users and teams: signup, login, who-am-I. */
@Injectable()
export class IdentityService {
  constructor(
    private readonly identities: IdentityRepository,
    private readonly limiter: LoginRateLimiter,
    private readonly issuer: JwtIssuer,
    private readonly relay: OutboxRelay,
    private readonly outbox: IdentityOutboxRepository,
  ) {}

  /**
   * Creates the user, their default team and the owner membership in one transaction. A taken
   * email answers exactly as a new one (after the same hash, so the timing matches too) and
   * changes nothing: signup is no oracle for which emails have accounts.
   */
  async signup(request: SignupRequest): Promise<SignupResult> {
    const email = normalizeEmail(request.email);
    // The budget is taken before the hash: a refused signup costs no scrypt.
    await this.limiter.signup(email, request.address);
    const passwordHash = await hashPassword(request.password);
    const userId = `usr_${ulid().toLowerCase()}`;
    const teamId = `team_${ulid().toLowerCase()}`;
    const actor = { kind: 'user' as const, id: userId };
    const created = await this.identities.transaction(async (tx) => {
      if (!(await this.identities.insertUser(tx, { id: userId, email, passwordHash }))) return false;
      const name = `${email.split('@')[0]}'s team`;
      await this.identities.insertTeam(tx, { id: teamId, name });
      await this.identities.insertMembership(tx, { teamId, userId, role: 'owner' });
      const common = { actor, teamId, correlationId: request.correlationId };
      await this.outbox.enqueue(tx, [
        { ...common, aggregate: Aggregate.User, aggregateId: userId, type: IdentityEvent.UserSignedUp, data: { userId, email, teamId } },
        { ...common, aggregate: Aggregate.Team, aggregateId: teamId, type: IdentityEvent.TeamCreated, data: { teamId, name, ownerId: userId } },
        { ...common, aggregate: Aggregate.Team, aggregateId: teamId, type: IdentityEvent.TeamMemberAdded, data: { teamId, userId, role: 'owner' } },
      ]);
      return true;
    });
    if (created) await this.relay.flush();
    return { email };
  }

  async login(request: LoginRequest): Promise<LoginResult> {
    const email = normalizeEmail(request.email);
    await this.limiter.attempt(email, request.address);
    const user = await this.identities.userByEmail(email);
    // Unknown emails cost the same hash as known ones: the answer and its timing say nothing.
    const matches = await verifyPassword(request.password, user?.passwordHash ?? (await decoyHash()));
    if (!user || !matches) throw new WrennError(ErrorCode.Unauthorized, 'email or password is wrong');
    const [team] = await this.identities.memberships(user.id);
    if (!team) throw new WrennError(ErrorCode.Unauthorized, 'this account belongs to no team');
    await this.limiter.succeeded(email, request.address);
    const { token, expiresIn } = await this.issuer.sign({ sub: user.id, team: team.teamId });
    return { token, expiresIn, userId: user.id, teamId: team.teamId };
  }

  async me(request: MeRequest): Promise<MeResult> {
    const user = await this.identities.userById(request.userId);
    if (!user) throw new WrennError(ErrorCode.Unauthorized, 'the token names no existing user');
    const teams = await this.identities.memberships(user.id);
    return { userId: user.id, email: user.email, createdAt: user.createdAt.toISOString(), teams };
  }
}
