"""LMS integration with LTI 1.3 Advantage: launch and sign-in, roster sync (NRPS) and grade passback (AGS)."""
