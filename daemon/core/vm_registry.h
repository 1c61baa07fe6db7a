// The in-memory view of every committed VM record, and the per-VM operation
// locks. Operations on one VM are serialized by its lock; operations on
// different VMs run in parallel. Reads (GetVm, ListVms) never take an
// operation lock, so they stay fast while a VM starts or stops.
#ifndef VMD_DAEMON_CORE_VM_REGISTRY_H_
#define VMD_DAEMON_CORE_VM_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

class VmRegistry {
 public:
  // Holds the operation lock of one VM name until destroyed.
  class OpLock {
   public:
    OpLock(OpLock&&) = default;
    ~OpLock();

   private:
    friend class VmRegistry;
    struct Entry {
      std::mutex mu;
      int users = 0;
    };
    OpLock(VmRegistry* registry, std::string name, Entry* entry);
    VmRegistry* registry_;
    std::string name_;
    std::unique_lock<std::mutex> lock_;
  };

  OpLock Lock(const std::string& name);

  std::optional<v1::Vm> Get(const std::string& name) const;
  // Put and Remove are called with the VM's OpLock held, after the commit.
  void Put(const v1::Vm& vm);
  void Remove(const std::string& name);
  // Removes the VM with this id, whatever its name.
  void RemoveId(const std::string& id);
  // Up to `limit` VMs that `match`, ordered by name, after `after_name`;
  // `*more` tells whether further matches follow.
  std::vector<v1::Vm> List(const std::string& after_name, size_t limit,
                           const std::function<bool(const v1::Vm&)>& match, bool* more) const;
  size_t size() const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, v1::Vm> vms_;

  std::mutex locks_mu_;
  std::map<std::string, std::unique_ptr<OpLock::Entry>> locks_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_VM_REGISTRY_H_
