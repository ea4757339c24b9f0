import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { WrennConfig } from '@wrenn/config';
import { JWT_AUDIENCE, JWT_ISSUER } from '@wrenn/contracts';
import { jwtVerifySecret } from '@wrenn/db';
import { CONFIG, DATA_SOURCE } from '@wrenn/service-kit';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { DataSource } from 'typeorm';

export interface TokenUser {
  userId: string;
  teamId: string;
}

/**
 * Verifies `Authorization: Bearer` tokens the auth service signed: HS256 only (no `none`, no
 * algorithm switching), our issuer and audience, not expired. The key comes from the same place
 * the auth service signs with (configured, or generated once and kept in PostgreSQL).
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(@Inject(DATA_SOURCE) ds: DataSource, @Inject(CONFIG) config: WrennConfig) {
    let secret: Promise<string> | undefined;
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      algorithms: ['HS256'],
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      ignoreExpiration: false,
      secretOrKeyProvider: (_req: unknown, _raw: string, done: (err: unknown, secret?: string) => void) => {
        secret ??= jwtVerifySecret(ds, config.auth.jwtSecret);
        secret.then(
          (value) => done(null, value),
          (error) => {
            secret = undefined;
            done(error);
          },
        );
      },
    });
  }

  validate(payload: { sub?: unknown; team?: unknown }): TokenUser | false {
    if (typeof payload.sub !== 'string' || typeof payload.team !== 'string') return false;
    return { userId: payload.sub, teamId: payload.team };
  }
}
