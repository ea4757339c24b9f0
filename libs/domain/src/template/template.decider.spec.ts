import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@wrenn/contracts';
import { fold } from '../decider';
import { specFor } from '@wrenn/domain-test-support';
import { TemplateCommand, TemplateCommandType, TEMPLATE_COMMAND_TYPES } from './template.commands';
import { TEMPLATE_ALLOWED_FROM, templateDecider } from './template.decider';
import { TemplateEvent, TemplateEventType as T } from './template.events';

const spec = specFor(templateDecider);
const TPL = 'tpl_01jdzzzzzzzzzzzzzzzzzzzzzz';

const request: TemplateCommand = {
  type: 'RequestTemplate', templateId: TPL, teamId: 'team_1', name: 'py-env', sandboxId: 'sb_1', hostId: 'h1', vcpus: 2, memoryMb: 1024,
};
const requested: TemplateEvent = {
  type: T.Requested,
  data: { templateId: TPL, teamId: 'team_1', name: 'py-env', sandboxId: 'sb_1', hostId: 'h1', vcpus: 2, memoryMb: 1024 },
};
const created: TemplateEvent = { type: T.Created, data: { sizeBytes: 8192, elapsedMs: 40 } };
const failedEvt: TemplateEvent = { type: T.Failed, data: { reason: 'disk full' } };
const deleted: TemplateEvent = { type: T.Deleted, data: {} };

const HISTORIES: Record<string, TemplateEvent[]> = {
  initial: [],
  creating: [requested],
  ready: [requested, created],
  failed: [requested, failedEvt],
  deleted: [requested, created, deleted],
};
const SAMPLES: Record<TemplateCommandType, TemplateCommand> = {
  RequestTemplate: request,
  MarkTemplateCreated: { type: 'MarkTemplateCreated', sizeBytes: 8192, elapsedMs: 40 },
  MarkTemplateFailed: { type: 'MarkTemplateFailed', reason: 'disk full' },
  DeleteTemplate: { type: 'DeleteTemplate' },
};

describe('templateDecider', () => {
  it('records a requested template with the host that will hold it and the locked size', () => {
    spec([]).when(request).then([requested]);
  });
  it('becomes ready with its size once the host froze it', () => {
    spec([requested]).when(SAMPLES.MarkTemplateCreated).then([created]);
    const state = fold(templateDecider, [requested, created]);
    assert.ok(state.status === 'ready');
    assert.equal(state.sizeBytes, 8192);
  });
  it('records why a template could not be made', () => {
    spec([requested]).when(SAMPLES.MarkTemplateFailed).then([failedEvt]);
    const state = fold(templateDecider, [requested, failedEvt]);
    assert.equal(state.status !== 'initial' && state.failureReason, 'disk full');
  });
  it('deletes a ready or failed template', () => {
    spec([requested, created]).when(SAMPLES.DeleteTemplate).then([deleted]);
    spec([requested, failedEvt]).when(SAMPLES.DeleteTemplate).then([deleted]);
  });
  it('answers not found for a deleted template, and for one that never was', () => {
    spec(HISTORIES.deleted).when(SAMPLES.DeleteTemplate).thenThrows(ErrorCode.TemplateNotFound);
    spec([]).when(SAMPLES.DeleteTemplate).thenThrows(ErrorCode.TemplateNotFound);
  });
  it('refuses to delete a template still being made', () => {
    spec([requested]).when(SAMPLES.DeleteTemplate).thenThrows(ErrorCode.InvalidState);
  });
  it('refuses the reserved built-in name', () => {
    spec([]).when({ ...request, name: 'base' } as TemplateCommand).thenThrows(ErrorCode.TemplateExists);
  });
  for (const name of ['../x', 'a/b', '', 'x'.repeat(300), 'ｂase', 'a\u0000b', 'A', '.hidden', '-x']) {
    it(`refuses the name ${JSON.stringify(name).slice(0, 24)} even when the API was skipped`, () => {
      spec([]).when({ ...request, name } as TemplateCommand).thenThrows(ErrorCode.ValidationFailed);
    });
  }
  it('refuses a malformed template id', () => {
    spec([]).when({ ...request, templateId: '../../etc' } as TemplateCommand).thenThrows(ErrorCode.ValidationFailed);
  });

  const LEGAL = new Set(['initial/RequestTemplate', 'creating/MarkTemplateCreated', 'creating/MarkTemplateFailed', 'ready/DeleteTemplate', 'failed/DeleteTemplate']);
  for (const [state, history] of Object.entries(HISTORIES)) {
    for (const type of TEMPLATE_COMMAND_TYPES) {
      const legal = LEGAL.has(`${state}/${type}`);
      it(`${legal ? 'allows' : 'rejects'} ${type} when ${state}`, () => {
        const run = () => templateDecider.decide(SAMPLES[type], fold(templateDecider, history));
        if (legal) assert.equal(run().length, 1);
        else assert.throws(run, (e: { code?: string }) => [ErrorCode.InvalidState, ErrorCode.TemplateExists, ErrorCode.TemplateNotFound].includes(e.code as never));
      });
    }
  }
  it('has a table entry for exactly the legal pairs', () => {
    const fromTable = new Set(Object.entries(TEMPLATE_ALLOWED_FROM).flatMap(([c, states]) => states.map((s) => `${s}/${c}`)));
    assert.deepEqual([...fromTable].sort(), [...LEGAL].sort());
  });
  it('refuses a history that does not start with template.requested', () => {
    assert.throws(() => fold(templateDecider, [created]));
  });
});
