# Static linking for vmd-engine (one process per VM): it should start fast and
# map little. Linked against the distribution's shared gRPC, protobuf and
# Abseil it loads ~57 shared objects; linked here against their static
# archives (.a, shipped next to the .so by the -dev packages) plus
# -static-libstdc++ -static-libgcc it needs only glibc, which stays dynamic:
# a fully static glibc breaks getaddrinfo/NSS.
#
#   vmd_add_engine_executable(<target> SOURCES <src>... LIBRARIES <lib>...)
#
# adds <target> built from SOURCES, compiled with the usage requirements of
# LIBRARIES exactly as target_link_libraries(<target> PRIVATE LIBRARIES) would
# give. With VMD_STATIC_ENGINE (default ON) the link closure of LIBRARIES is
# resolved at the end of the configure step (so links added later are seen):
# the project's own static libraries are linked as archives, and every shared
# library in the closure is replaced by the archive next to it. If any archive
# is missing (or the closure holds something that cannot be resolved) the
# target falls back to ordinary dynamic linking, with a message saying why:
# never a mix, which would give the program two copies of gRPC/protobuf/Abseil
# state and duplicate registrations. A post-build check fails the build if
# the static binary still needs libgrpc/libprotobuf/libabsl/libstdc++.
#
# With VMD_STATIC_ENGINE_GRPC_UNSECURE (default ON) gRPC is linked in its
# variant without TLS (libgrpc++_unsecure/libgrpc_unsecure, no OpenSSL): the
# engine serves only a 0600 unix socket with InsecureServerCredentials, and
# that halves the code (9 MB -> 5 MB of .text) and so the pages it maps.
#
# The libraries themselves are untouched: vmd, the tests and everything else
# keep linking the shared libraries.
#
# Script mode (the post-build check):
#   cmake -DVMD_ENGINE_BINARY=<file> -DVMD_READELF=<readelf> -P StaticEngine.cmake

if(CMAKE_SCRIPT_MODE_FILE)
  execute_process(COMMAND "${VMD_READELF}" -d "${VMD_ENGINE_BINARY}"
    OUTPUT_VARIABLE _dyn RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "StaticEngine: cannot read ${VMD_ENGINE_BINARY}")
  endif()
  string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]]*\\]" _needed "${_dyn}")
  foreach(_n IN LISTS _needed)
    if(_n MATCHES "\\[(lib(grpc|gpr|upb|protobuf|absl_|re2|cares|ssl|crypto|address_sorting|stdc\\+\\+|gcc_s)[^]]*)\\]")
      message(FATAL_ERROR "StaticEngine: ${VMD_ENGINE_BINARY} is meant to be statically linked "
        "but still needs ${CMAKE_MATCH_1}; configure with -DVMD_STATIC_ENGINE=OFF to link it dynamically")
    endif()
  endforeach()
  return()
endif()

include_guard(GLOBAL)
include(CheckLinkerFlag)

option(VMD_STATIC_ENGINE
  "Link vmd-engine statically against gRPC/protobuf/Abseil/OpenSSL archives and libstdc++ (glibc stays dynamic)" ON)
option(VMD_STATIC_ENGINE_GRPC_UNSECURE
  "With VMD_STATIC_ENGINE, link gRPC's variant without TLS (libgrpc++_unsecure, no OpenSSL) into vmd-engine" ON)

# The location an imported target links, for the current build type.
function(_vmd_imported_location tgt out)
  string(TOUPPER "${CMAKE_BUILD_TYPE}" cfg)
  set(props)
  if(cfg)
    get_target_property(mapped ${tgt} MAP_IMPORTED_CONFIG_${cfg})
    if(mapped)
      foreach(m IN LISTS mapped)
        string(TOUPPER "${m}" m)
        list(APPEND props IMPORTED_LOCATION_${m})
      endforeach()
    endif()
    list(APPEND props IMPORTED_LOCATION_${cfg})
  endif()
  list(APPEND props IMPORTED_LOCATION)
  get_target_property(cfgs ${tgt} IMPORTED_CONFIGURATIONS)
  if(cfgs)
    foreach(c IN LISTS cfgs)
      string(TOUPPER "${c}" c)
      list(APPEND props IMPORTED_LOCATION_${c})
    endforeach()
  endif()
  foreach(p IN LISTS props)
    get_target_property(loc ${tgt} ${p})
    if(loc)
      set(${out} "${loc}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out} "" PARENT_SCOPE)
endfunction()

# libfoo.so[.N...] -> libfoo.a in the same directory (the archive built from
# the same sources by the same package), or "" if there is none.
function(_vmd_archive_for lib out)
  set(${out} "" PARENT_SCOPE)
  if(lib MATCHES "^(.*/lib[^/]+)\\.so(\\.[0-9.]+)?$")
    if(EXISTS "${CMAKE_MATCH_1}.a")
      get_filename_component(a "${CMAKE_MATCH_1}.a" REALPATH)
      set(${out} "${a}" PARENT_SCOPE)
    endif()
  elseif(lib MATCHES "\\.a$" AND EXISTS "${lib}")
    set(${out} "${lib}" PARENT_SCOPE)
  endif()
endfunction()

# Walks the link closure of the items in ARGN. Sets in the caller:
#   _vmd_own      the project's static libraries (targets)
#   _vmd_archives third-party archives (paths)
#   _vmd_plain    items linked as they are (glibc libraries, -pthread, ...)
#   _vmd_missing  why a static link is not possible ("" if it is)
function(_vmd_walk_closure)
  # glibc (and the toolchain's own runtime, made static by -static-libstdc++
  # -static-libgcc): linked as they are.
  set(system_libs c m dl rt pthread util resolv atomic stdc++ gcc gcc_s)
  set(queue ${ARGN})
  set(seen)
  set(own)
  set(archives)
  set(plain)
  set(missing)
  while(queue)
    list(POP_FRONT queue item)
    # $<LINK_ONLY:x> is x for linking; a condition that can never hold
    # here (absl's $<$<PLATFORM_ID:Darwin>:...>) is nothing.
    while(item MATCHES "^\\$<LINK_ONLY:(.*)>$")
      set(item "${CMAKE_MATCH_1}")
    endwhile()
    if(item MATCHES "^\\$<\\$<PLATFORM_ID:([A-Za-z]+)>:(.*)>$")
      if(CMAKE_MATCH_1 STREQUAL CMAKE_SYSTEM_NAME)
        set(item "${CMAKE_MATCH_2}")
      else()
        continue()
      endif()
    endif()
    # ::@(directory-id) ... ::@ bracket links made from another directory.
    if(item STREQUAL "" OR item MATCHES "^::@" OR item IN_LIST seen)
      continue()
    endif()
    list(APPEND seen "${item}")
    if(item MATCHES "\\$<")
      list(APPEND missing "cannot resolve the generator expression ${item}")
      continue()
    endif()

    # The engine serves its API on a 0600 unix socket without TLS: gRPC's
    # variant without the TLS/ALTS security stack (and OpenSSL) is enough,
    # and half the code to map. Using TLS in the engine then fails to link.
    if(VMD_STATIC_ENGINE_GRPC_UNSECURE AND item MATCHES "^gRPC::grpc(\\+\\+)?$"
       AND TARGET "${item}_unsecure")
      set(item "${item}_unsecure")
    endif()
    if(TARGET "${item}")
      get_target_property(aliased "${item}" ALIASED_TARGET)
      if(aliased)
        list(PREPEND queue "${aliased}")
        continue()
      endif()
      get_target_property(type "${item}" TYPE)
      get_target_property(imported "${item}" IMPORTED)
      get_target_property(deps "${item}" INTERFACE_LINK_LIBRARIES)
      get_target_property(lopts "${item}" INTERFACE_LINK_OPTIONS)
      if(lopts)
        list(APPEND plain ${lopts})
      endif()
      if(type STREQUAL "INTERFACE_LIBRARY" OR type STREQUAL "OBJECT_LIBRARY")
        # Headers and flags only (or objects already compiled in via their
        # consumer); what they link comes from their dependencies.
      elseif(NOT imported AND type STREQUAL "STATIC_LIBRARY")
        list(APPEND own "${item}")
      elseif(imported AND (type STREQUAL "SHARED_LIBRARY" OR type STREQUAL "UNKNOWN_LIBRARY"
                           OR type STREQUAL "STATIC_LIBRARY"))
        _vmd_imported_location("${item}" loc)
        _vmd_archive_for("${loc}" a)
        if(a)
          list(APPEND archives "${a}")
        else()
          list(APPEND missing "no static archive for ${item} (${loc})")
        endif()
      else()
        list(APPEND missing "${item} is a ${type}")
      endif()
      if(deps)
        list(APPEND queue ${deps})
      endif()
    elseif(item MATCHES "^-l(.+)$" OR item MATCHES "^[A-Za-z0-9_+.][A-Za-z0-9_+.-]*$")
      # A library by name: glibc's stay, anything else becomes its archive.
      string(REGEX REPLACE "^-l" "" name "${item}")
      if(name IN_LIST system_libs)
        list(APPEND plain "-l${name}")
      else()
        find_library(_vmd_a NAMES lib${name}.a NO_CACHE)
        if(_vmd_a)
          list(APPEND archives "${_vmd_a}")
        else()
          list(APPEND missing "no static archive lib${name}.a")
        endif()
        unset(_vmd_a)
      endif()
    elseif(item MATCHES "^-")
      list(APPEND plain "${item}")  # -pthread, -Wl,... as given
    elseif(IS_ABSOLUTE "${item}")
      _vmd_archive_for("${item}" a)
      if(a)
        list(APPEND archives "${a}")
      else()
        list(APPEND missing "no static archive for ${item}")
      endif()
    else()
      list(APPEND missing "cannot resolve the link item ${item}")
    endif()
  endwhile()
  list(REMOVE_DUPLICATES archives)
  list(REMOVE_DUPLICATES plain)
  set(_vmd_own "${own}" PARENT_SCOPE)
  set(_vmd_archives "${archives}" PARENT_SCOPE)
  set(_vmd_plain "${plain}" PARENT_SCOPE)
  set(_vmd_missing "${missing}" PARENT_SCOPE)
endfunction()

# The link options of a static engine (computed where the link is resolved).
function(_vmd_static_link_options out)
  # -static-libstdc++/-static-libgcc: no libstdc++.so/libgcc_s.so to load.
  # --gc-sections: drop the sections nothing references. --as-needed: no
  # DT_NEEDED for glibc libraries nothing uses. -O1: smaller hash tables.
  set(opts -static-libstdc++ -static-libgcc
    LINKER:--gc-sections LINKER:--as-needed LINKER:-O1)
  # DT_RELR (binutils >= 2.38, glibc >= 2.36): relative relocations packed
  # into a bitmap instead of 24 bytes each, so a smaller binary to map.
  check_linker_flag(CXX "LINKER:-z,pack-relative-relocs" VMD_HAVE_PACK_RELATIVE_RELOCS)
  if(VMD_HAVE_PACK_RELATIVE_RELOCS)
    list(APPEND opts "LINKER:-z,pack-relative-relocs")
  endif()
  set(${out} ${opts} PARENT_SCOPE)
endfunction()

# Deferred to the end of the configure step (see vmd_add_engine_executable).
function(_vmd_link_engine target libraries)
  _vmd_walk_closure(${libraries})
  if(_vmd_missing)
    list(JOIN _vmd_missing "\n    " why)
    message(WARNING "VMD_STATIC_ENGINE: cannot link ${target} statically, linking it against the "
      "shared libraries instead (slower start, more memory per VM):\n    ${why}\n"
      "Install the static archives (they come with the -dev packages, e.g. libgrpc++-dev, "
      "libprotobuf-dev, libabsl-dev, libssl-dev, libc-ares-dev, libre2-dev, zlib1g-dev) "
      "or configure with -DVMD_STATIC_ENGINE=OFF to silence this.")
    target_link_libraries(${target} PRIVATE ${libraries})
    return()
  endif()

  set(own_files)
  foreach(t IN LISTS _vmd_own)
    list(APPEND own_files "$<TARGET_FILE:${t}>")
  endforeach()
  # The project's archives and the third-party ones in one group: the linker
  # rescans it until nothing new resolves, so their order does not matter.
  # Only members something references are taken, so listing every archive
  # of the closure costs nothing in the binary.
  _vmd_static_link_options(opts)
  target_link_libraries(${target} PRIVATE
    -Wl,--start-group ${own_files} ${_vmd_archives} -Wl,--end-group
    ${_vmd_plain})
  target_link_options(${target} PRIVATE ${opts})
  # Linked as files, not as targets: build them first, relink when they change.
  if(_vmd_own)
    add_dependencies(${target} ${_vmd_own})
  endif()
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${own_files})
  set_property(TARGET ${target} PROPERTY VMD_STATIC_LINKED ON)
  list(LENGTH _vmd_archives n)
  message(STATUS "VMD_STATIC_ENGINE: ${target} links ${n} static archives (glibc stays dynamic)")
endfunction()

# vmd_add_engine_executable(<target> SOURCES <src>... LIBRARIES <lib>...
#                           [COMPILE_OPTIONS <opt>...])
function(vmd_add_engine_executable target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;LIBRARIES;COMPILE_OPTIONS")
  if(NOT VMD_STATIC_ENGINE)
    add_executable(${target} ${arg_SOURCES})
    target_compile_options(${target} PRIVATE ${arg_COMPILE_OPTIONS})
    target_link_libraries(${target} PRIVATE ${arg_LIBRARIES})
    return()
  endif()
  # The sources compile exactly as before, with every usage requirement of
  # LIBRARIES; only the executable's link line differs.
  add_library(${target}_objects OBJECT ${arg_SOURCES})
  target_compile_options(${target}_objects PRIVATE ${arg_COMPILE_OPTIONS}
    -ffunction-sections -fdata-sections)
  target_link_libraries(${target}_objects PRIVATE ${arg_LIBRARIES})
  add_executable(${target} $<TARGET_OBJECTS:${target}_objects>)
  # Everything the static link needs is known only once every directory has
  # added its links: resolve it at the end of the configure step.
  cmake_language(EVAL CODE "
    cmake_language(DEFER DIRECTORY \"${CMAKE_SOURCE_DIR}\"
      CALL _vmd_link_engine \"${target}\" \"${arg_LIBRARIES}\")")
  # Fails the build if the static binary still needs the shared gRPC & co.
  if(NOT CMAKE_READELF)
    return()
  endif()
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND "$<$<BOOL:$<TARGET_PROPERTY:${target},VMD_STATIC_LINKED>>:${CMAKE_COMMAND};-DVMD_ENGINE_BINARY=$<TARGET_FILE:${target}>;-DVMD_READELF=${CMAKE_READELF};-P;${CMAKE_CURRENT_FUNCTION_LIST_FILE}>"
    COMMAND_EXPAND_LISTS VERBATIM)
endfunction()
