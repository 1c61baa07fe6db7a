#include "daemon/core/vm_registry.h"

namespace vmd::daemon {

VmRegistry::OpLock::OpLock(VmRegistry* registry, std::string name, Entry* entry)
    : registry_(registry), name_(std::move(name)), lock_(entry->mu) {}

VmRegistry::OpLock::~OpLock() {
  if (!lock_.owns_lock()) return;  // moved from
  lock_.unlock();
  std::lock_guard guard(registry_->locks_mu_);
  auto it = registry_->locks_.find(name_);
  if (--it->second->users == 0) registry_->locks_.erase(it);
}

VmRegistry::OpLock VmRegistry::Lock(const std::string& name) {
  OpLock::Entry* entry;
  {
    std::lock_guard guard(locks_mu_);
    auto& slot = locks_[name];
    if (!slot) slot = std::make_unique<OpLock::Entry>();
    ++slot->users;
    entry = slot.get();
  }
  return OpLock(this, name, entry);  // blocks until the VM's operation lock is free
}

std::optional<v1::Vm> VmRegistry::Get(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = vms_.find(name);
  if (it == vms_.end()) return std::nullopt;
  return it->second;
}

void VmRegistry::Put(const v1::Vm& vm) {
  std::unique_lock lock(mu_);
  vms_[vm.spec().name()] = vm;
}

void VmRegistry::Remove(const std::string& name) {
  std::unique_lock lock(mu_);
  vms_.erase(name);
}

void VmRegistry::RemoveId(const std::string& id) {
  std::unique_lock lock(mu_);
  std::erase_if(vms_, [&](const auto& entry) { return entry.second.id() == id; });
}

std::vector<v1::Vm> VmRegistry::List(const std::string& after_name, size_t limit,
                                     const std::function<bool(const v1::Vm&)>& match, bool* more) const {
  std::shared_lock lock(mu_);
  std::vector<v1::Vm> out;
  *more = false;
  for (auto it = vms_.upper_bound(after_name); it != vms_.end(); ++it) {
    if (!match(it->second)) continue;
    if (out.size() == limit) {
      *more = true;
      break;
    }
    out.push_back(it->second);
  }
  return out;
}

size_t VmRegistry::size() const {
  std::shared_lock lock(mu_);
  return vms_.size();
}

}  // namespace vmd::daemon
