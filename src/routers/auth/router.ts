import { router } from '../trpc';
import { otpProcedures } from './otp';
import { passwordProcedures } from './password';

/** Sign-in of API.md §1: one-time codes delivered by bots, and username + password. */
export const authRouter = router({
  ...otpProcedures,
  ...passwordProcedures,
});
