# cpu.sh: sourced by the bench drivers. `bench_cpu_line [torch]` prints the machine a bench ran on, as
# the C benches print core/cpu.h's line: CPU model and vendor (/proc/cpuinfo, else lscpu), logical
# CPUs, AVX-512 / avx512_bf16 / AMX from the kernel's flags, the OpenBLAS core the environment sets,
# and with `torch` PyTorch's default thread count (each PyTorch run sets its own with --threads).
bench_cpu_line() {
    _model=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*: *//')
    [ -n "$_model" ] || _model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
    _vendor=$(grep -m1 '^vendor_id' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*: *//')
    _flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*://') "
    _has() { case "$_flags" in *" $1 "*) echo yes ;; *) echo no ;; esac; }
    _line="cpu: ${_model:-unknown} (${_vendor:-unknown}), $(nproc) CPUs | AVX-512 $(_has avx512f), avx512_bf16 $(_has avx512_bf16), AMX $(_has amx_tile) | OPENBLAS_CORETYPE ${OPENBLAS_CORETYPE:-unset}"
    if [ "${1:-}" = torch ]; then
        _tt=$(/usr/bin/python3 -c 'import torch; print(torch.get_num_threads())' 2>/dev/null || echo "?")
        _line="$_line | torch: $_tt thread(s) by default"
    fi
    echo "$_line"
}
