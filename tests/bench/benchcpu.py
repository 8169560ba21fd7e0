"""benchcpu: the CPU a PyTorch bench reference ran on, for its header line (as the C benches print
core/cpu.h's line): model name and vendor from /proc/cpuinfo (lscpu where that has none)."""
import subprocess


def cpu_model():
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                k, _, v = line.partition(":")
                fields.setdefault(k.strip(), v.strip())
    except OSError:
        pass
    model, vendor = fields.get("model name"), fields.get("vendor_id")
    if not model:
        try:
            out = subprocess.run(["lscpu"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
            for line in out.splitlines():
                k, _, v = line.partition(":")
                if k.strip() == "Model name":
                    model = v.strip()
                elif k.strip() == "Vendor ID":
                    vendor = vendor or v.strip()
        except OSError:
            pass
    return "%s (%s)" % (model or "unknown", vendor or "unknown")
