import { Router } from 'express';
import { AppError } from '../../core/errors';
import type { AppDeps } from '../../deps';
import { challengeAnswer } from '../../services/certificates/acme';
import { sendError } from '../middleware/error-body';

// GET /.well-known/acme-challenge/{token} (RFC 8555 §8.3, HTTP-01): the key authorisation of a
// pending challenge, as plain text, for the ACME server validating an order. Pending challenges are
// in the database, so any node can answer; anything else is 404.

export const acmeChallengeRoute = {
  method: 'GET',
  path: '/.well-known/acme-challenge/{token}',
  tier: 'PUBLIC',
} as const;

const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

export function acmeChallengeRouter(deps: AppDeps) {
  const router = Router();
  router.get('/.well-known/acme-challenge/:token', async (req, res) => {
    try {
      const token = req.params.token;
      const answer = TOKEN.test(token) ? await challengeAnswer(deps.database.db, token) : null;
      if (answer === null) throw new AppError('NOT_FOUND', 'Challenge not found');
      res.status(200).type('text/plain').send(answer);
    } catch (err) {
      sendError(res, err);
    }
  });
  return router;
}
