import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { ValidateIf } from 'class-validator';
import { ErrorCode, WrennError } from '@wrenn/contracts';

function flatten(errors: ValidationError[], prefix = ''): Array<{ field: string; problems: string[] }> {
  return errors.flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    const own = e.constraints ? [{ field, problems: Object.values(e.constraints) }] : [];
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

/**
 * Keys class-transformer drops silently before validation sees them (`prototype` and anything
 * Object.prototype has, e.g. `constructor`, `valueOf`), so `forbidNonWhitelisted` could not
 * refuse them: refused here instead.
 */
const isDroppedKey = (key: string): boolean => key === 'prototype' || key in Object.prototype;

class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (value && typeof value === 'object' && (metadata.type === 'body' || metadata.type === 'query')) {
      const bad = Object.keys(value).find(isDroppedKey);
      if (bad) throw new WrennError(ErrorCode.ValidationFailed, `property ${bad} should not exist`, { fields: [{ field: bad, problems: [`property ${bad} should not exist`] }] });
    }
    return super.transform(value, metadata);
  }
}

/** class-validator on every body and query; unknown fields are rejected, not ignored. */
export function validationPipe(): ValidationPipe {
  return new StrictValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) => {
      const fields = flatten(errors);
      const message = fields.map((f) => f.problems.join('; ')).join('; ') || 'invalid request';
      return new WrennError(ErrorCode.ValidationFailed, message, { fields });
    },
  });
}

/**
 * A field that may be left out, but not sent as null: class-validator's IsOptional also skips
 * null, which would let `{"name": null}` through to code that expects a string.
 */
export const Omittable = (): PropertyDecorator => ValidateIf((_object, value) => value !== undefined);

/**
 * An integer that may arrive as a decimal string (query parameters always do). Only digit strings
 * are converted: `Number()` would also turn "", true or [] into numbers and let them through.
 */
export const IntFromString = (): PropertyDecorator =>
  Transform(({ value }) => (typeof value === 'string' && /^-?\d{1,15}$/.test(value) ? Number(value) : value));
