# What `cmake --install <build> [--prefix P]` puts where: the three programs
# side by side in P/bin (vmd starts the vmd-engine next to itself), the
# systemd unit in P/lib/systemd/system (systemd looks there for /usr and
# /usr/local alike), the README in P/share/doc/vmd. Included once every
# target exists.
include_guard(GLOBAL)
include(GNUInstallDirs)

install(TARGETS vmd vmd-engine vmctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The unit names the binaries by absolute path. `cmake --install --prefix P`
# replaces the configured prefix only when it installs, so a unit configured
# now would name the wrong ones: the install step configures it, with
# GNUInstallDirs' FULL paths made from the prefix it installs into (DESTDIR,
# a staging root, stays out of them as it should).
foreach(dir BINDIR DOCDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(_vmd_full_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(_vmd_full_${dir} "\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
set(_vmd_unit ${PROJECT_BINARY_DIR}/deploy/systemd/vmd.service)
install(CODE "
  set(CMAKE_INSTALL_FULL_BINDIR \"${_vmd_full_BINDIR}\")
  set(CMAKE_INSTALL_FULL_DOCDIR \"${_vmd_full_DOCDIR}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/deploy/systemd/vmd.service.in\"
                 \"${_vmd_unit}\" @ONLY)")
install(FILES ${_vmd_unit} DESTINATION lib/systemd/system)
