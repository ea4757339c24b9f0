import { Inject, Injectable } from '@nestjs/common';
import { WrennConfig } from '@wrenn/config';
import { JWT_AUDIENCE, JWT_ISSUER, UserTokenClaims } from '@wrenn/contracts';
import { jwtSecret } from '@wrenn/db';
import { CONFIG, DATA_SOURCE } from '@wrenn/service-kit';
import jwt from 'jsonwebtoken';
import { DataSource } from 'typeorm';

/** Signs user tokens (HS256). The gateway verifies them with the same key, from the same place. */
@Injectable()
export class JwtIssuer {
  private secret?: Promise<string>;

  constructor(
    @Inject(DATA_SOURCE) private readonly ds: DataSource,
    @Inject(CONFIG) private readonly config: WrennConfig,
  ) {}

  async sign(claims: UserTokenClaims): Promise<{ token: string; expiresIn: number }> {
    this.secret ??= jwtSecret(this.ds, this.config.auth.jwtSecret);
    const expiresIn = this.config.auth.jwtTtlSec;
    const token = jwt.sign({ team: claims.team }, await this.secret, {
      algorithm: 'HS256',
      subject: claims.sub,
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      expiresIn,
    });
    return { token, expiresIn };
  }
}
