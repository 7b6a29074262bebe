"""``damdrift doctor``: a read-only probe of a DX publisher that says which of dam-drift's assumptions hold.

The same code runs from the CLI (``damdrift doctor``) and in AWS (the DoctorFunction), so a deployed
stack's network path, TLS bundle and secret meet DX exactly as the probe did on a laptop.
"""

from damdrift.doctor.models import Check, DoctorReport, Status
from damdrift.doctor.probe import run_doctor

__all__ = ["Check", "DoctorReport", "Status", "run_doctor"]
