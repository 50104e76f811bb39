import { z } from 'zod';
import { issueAcmeCertificate, listAcmeOrders } from '../../services/certificates/acme';
import { generateSelfSignedCertificate } from '../../services/certificates/generate';
import {
  activateCertificate,
  deleteCertificate,
  listCertificates,
  showCertificate,
  storeCertificate,
} from '../../services/certificates/store';
import { adminProcedure, router } from '../trpc';
import {
  ZAcmeIssueInput,
  ZAcmeOrdersInput,
  ZCertificateId,
  ZSelfSignedInput,
  ZUploadCertificateInput,
} from './certificate-schemas';

// Certificate management (seed 002 "Certificate Management"; admin router and CLI, not REST:
// API.md §0). Thin: the services check, store, audit, and the nodes pick up the active one.

export const certificatesRouter = router({
  list: adminProcedure.input(z.void()).query(({ ctx }) => listCertificates(ctx.db)),
  show: adminProcedure.input(ZCertificateId).query(({ ctx, input }) => showCertificate(ctx.db, input.id)),
  upload: adminProcedure
    .input(ZUploadCertificateInput)
    .mutation(({ ctx, input }) =>
      storeCertificate({ db: ctx.db, box: ctx.deps.secretBox, actor: ctx.actor, source: 'upload', ...input }),
    ),
  selfSigned: adminProcedure
    .input(ZSelfSignedInput)
    .mutation(({ ctx, input }) =>
      generateSelfSignedCertificate({ db: ctx.db, box: ctx.deps.secretBox, actor: ctx.actor, ...input }),
    ),
  activate: adminProcedure
    .input(ZCertificateId)
    .mutation(({ ctx, input }) => activateCertificate({ db: ctx.db, actor: ctx.actor, id: input.id })),
  delete: adminProcedure
    .input(ZCertificateId)
    .mutation(({ ctx, input }) => deleteCertificate({ db: ctx.db, actor: ctx.actor, id: input.id })),
  acmeIssue: adminProcedure.input(ZAcmeIssueInput).mutation(({ ctx, input }) =>
    issueAcmeCertificate({
      db: ctx.db,
      box: ctx.deps.secretBox,
      env: ctx.deps.env,
      log: ctx.log,
      actor: ctx.actor,
      ...input,
    }),
  ),
  acmeOrders: adminProcedure
    .input(ZAcmeOrdersInput)
    .query(({ ctx, input }) => listAcmeOrders(ctx.db, input.limit)),
});
