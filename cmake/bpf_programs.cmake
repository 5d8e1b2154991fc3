# BPF programs of src/bpf/: each NAME.bpf.c is compiled by clang for the BPF target into
# BUILD/bpf/NAME.bpf.o, and `bpftool gen skeleton` turns that object into BUILD/bpf/NAME.skel.h,
# a header that embeds the object and names its maps and programs, so the binary carries its own
# programs and loads them with libbpf (no .o to install beside it).
#
# Only the kernel's UAPI headers (<linux/*.h>, from linux-libc-dev) and libbpf's
# <bpf/bpf_helpers.h> are included, not a vmlinux.h dumped from /sys/kernel/btf: the programs
# parse packets and never read kernel structures, so they need no CO-RE, and the build then works
# on a machine (a container, a package builder) whose running kernel has no BTF or is not the
# one l4lb will run on.
#
# The compile is a custom command with its own flags: nothing of add_compile_options (warnings
# for C++, the sanitize and fuzz presets' -fsanitize=...) reaches it.

find_program(L4LB_BPF_CLANG NAMES clang clang-14 REQUIRED
             DOC "clang that can target BPF (the BPF programs of src/bpf)")
find_program(L4LB_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED
             DOC "bpftool, for the skeletons of the BPF programs")
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)

# <asm/types.h> lives under the multiarch directory on Debian; the BPF target does not search it.
set(l4lb_bpf_multiarch "${CMAKE_LIBRARY_ARCHITECTURE}")
if(NOT l4lb_bpf_multiarch)
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-multiarch
                  OUTPUT_VARIABLE l4lb_bpf_multiarch OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
set(L4LB_BPF_FLAGS -target bpf -mcpu=v3 -O2 -g -std=gnu11 -Wall -Wextra
    -Wno-unused-parameter -I${CMAKE_SOURCE_DIR}/src)
foreach(dir ${LIBBPF_INCLUDE_DIRS})
  list(APPEND L4LB_BPF_FLAGS -I${dir})
endforeach()
if(l4lb_bpf_multiarch)
  list(APPEND L4LB_BPF_FLAGS -idirafter /usr/include/${l4lb_bpf_multiarch})
endif()
if(L4LB_WERROR)
  list(APPEND L4LB_BPF_FLAGS -Werror)
endif()

set(L4LB_BPF_OUT ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${L4LB_BPF_OUT})

# l4lb_bpf_object(SRC NAME): SRC (a .bpf.c file) -> ${L4LB_BPF_OUT}/NAME.bpf.o.
function(l4lb_bpf_object src name)
  set(obj ${L4LB_BPF_OUT}/${name}.bpf.o)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${L4LB_BPF_CLANG} ${L4LB_BPF_FLAGS} -MD -MF ${obj}.d -c ${src} -o ${obj}
    DEPENDS ${src}
    DEPFILE ${obj}.d
    COMMENT "Compiling BPF program ${name}.bpf.c"
    VERBATIM)
endfunction()

# l4lb_bpf_skeleton(NAME): src/bpf/NAME.bpf.c -> ${L4LB_BPF_OUT}/NAME.skel.h (struct NAME).
# Appends the header to the variable L4LB_BPF_SKELETONS.
function(l4lb_bpf_skeleton name)
  set(obj ${L4LB_BPF_OUT}/${name}.bpf.o)
  set(skel ${L4LB_BPF_OUT}/${name}.skel.h)
  l4lb_bpf_object(${CMAKE_SOURCE_DIR}/src/bpf/${name}.bpf.c ${name})
  add_custom_command(
    OUTPUT ${skel}
    COMMAND sh -c "\"$1\" gen skeleton \"$2\" name \"$3\" > \"$4.tmp\" && mv \"$4.tmp\" \"$4\""
            l4lb_bpf_skeleton ${L4LB_BPFTOOL} ${obj} ${name} ${skel}
    DEPENDS ${obj}
    COMMENT "Generating BPF skeleton ${name}.skel.h"
    VERBATIM)
  set(L4LB_BPF_SKELETONS ${L4LB_BPF_SKELETONS} ${skel} PARENT_SCOPE)
endfunction()
