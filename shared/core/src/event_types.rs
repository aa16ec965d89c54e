//! The types of the domain events Nhịp records and raises, each with the Vietnamese label the
//! timeline and activity views show. Producers name a type by its constant, so a misspelt type
//! does not compile, and a type cannot be raised without a label. Events from the
//! organisation's core systems may carry other types; those are shown as they are.

macro_rules! event_types {
    ($($name:ident = $wire:literal, $label:literal;)+) => {
        $(
            #[doc = concat!("`", $wire, "`: ", $label, ".")]
            pub const $name: &str = $wire;
        )+

        /// Every type with its label, in display order.
        pub const ALL: &[(&str, &str)] = &[$(($wire, $label)),+];

        /// The Vietnamese label of a known type.
        pub fn label(event_type: &str) -> Option<&'static str> {
            match event_type {
                $($wire => Some($label),)+
                _ => None,
            }
        }
    };
}

event_types! {
    LEAD_CREATED = "lead.created", "Đăng ký mới";
    LEAD_RESUBMITTED = "lead.resubmitted", "Đăng ký lại";
    LEAD_RESUBMISSION_APPLIED = "lead.resubmission_applied", "Áp dụng thông tin đăng ký lại";
    CUSTOMER_CREATED = "customer.created", "Tạo khách hàng";
    CUSTOMER_UPDATED = "customer.updated", "Cập nhật thông tin";
    CUSTOMER_ASSIGNED = "customer.assigned", "Giao khách hàng";
    CUSTOMER_IMPORTED = "customer.imported", "Nhập từ tệp";
    CUSTOMER_LIFECYCLE_CHANGED = "customer.lifecycle_changed", "Chuyển trạng thái";
    INTERACTION_CALL = "interaction.call", "Gọi điện";
    INTERACTION_NOTE = "interaction.note", "Ghi chú";
    INTERACTION_MEETING = "interaction.meeting", "Gặp mặt";
    INTERACTION_SMS = "interaction.sms", "Nhắn tin SMS";
    INTERACTION_EMAIL = "interaction.email", "Gửi email";
    CALL_INCOMING = "call.incoming", "Cuộc gọi đến";
    NEXT_ACTION_SCHEDULED = "next_action.scheduled", "Đặt lịch";
    HOLDING_ADDED = "holding.added", "Thêm sản phẩm";
    HOLDING_UPDATED = "holding.updated", "Cập nhật sản phẩm";
    CONSENT_CHANGED = "consent.changed", "Thay đổi đồng ý";
    CONSENT_CONFIRMED = "consent.confirmed", "Xác nhận đồng ý";
    PRIVACY_RESTRICTED = "privacy.restricted", "Hạn chế xử lý dữ liệu";
    PRIVACY_OBJECTED = "privacy.objected", "Phản đối tiếp thị";
    PRIVACY_EXPORTED = "privacy.exported", "Xuất dữ liệu cá nhân";
    PRIVACY_ERASED = "privacy.erased", "Xoá dữ liệu cá nhân";
    MESSAGE_PROCESSING = "message.processing", "Đang xử lý tin";
    MESSAGE_SENT = "message.sent", "Gửi tin";
    MESSAGE_DEFERRED = "message.deferred", "Hoãn gửi tin";
    MESSAGE_SUPPRESSED = "message.suppressed", "Chặn gửi tin";
    MESSAGE_NO_CONSENT = "message.no_consent", "Không gửi: chưa có đồng ý";
    MESSAGE_CAPPED = "message.capped", "Không gửi: vượt giới hạn quảng cáo";
    MESSAGE_NO_ADDRESS = "message.no_address", "Không gửi: thiếu địa chỉ";
    MESSAGE_FAILED = "message.failed", "Gửi tin lỗi";
    MESSAGE_UNCERTAIN = "message.uncertain", "Gửi tin chưa rõ kết quả";
    MESSAGE_WITHDRAWN = "message.withdrawn", "Không gửi: không còn cần";
    MESSAGE_ACCEPTED = "message.accepted", "Nhà cung cấp nhận tin";
    MESSAGE_DELIVERED = "message.delivered", "Tin đã đến";
    MESSAGE_OPENED = "message.opened", "Mở tin";
    MESSAGE_CLICKED = "message.clicked", "Nhấn liên kết";
    MESSAGE_BOUNCED = "message.bounced", "Tin bị trả lại";
    MESSAGE_SOFT_BOUNCED = "message.soft_bounced", "Tin tạm thời bị trả lại";
    MESSAGE_COMPLAINED = "message.complained", "Đánh dấu thư rác";
    MESSAGE_REJECTED = "message.rejected", "Nhà cung cấp từ chối tin";
    MESSAGE_DELAYED = "message.delayed", "Tin đến chậm";
    MESSAGE_RENDERING_FAILED = "message.rendering_failed", "Lỗi dựng nội dung";
    MESSAGE_UNSUBSCRIBED = "message.unsubscribed", "Huỷ đăng ký nhận tin";
    MESSAGE_MARKED_NOT_SPAM = "message.marked_not_spam", "Đánh dấu không phải thư rác";
    CONSENT_REFUSED = "consent.refused", "Từ chối nhận quảng cáo";
    CONSENT_AGREEMENT_CHANGED = "consent.agreement_changed", "Thoả thuận giới hạn quảng cáo";
    JOURNEY_ENTERED = "journey.entered", "Vào hành trình";
    JOURNEY_CONVERTED = "journey.converted", "Đạt mục tiêu hành trình";
    JOURNEY_EXITED = "journey.exited", "Kết thúc hành trình";
    JOURNEY_STOPPED = "journey.stopped", "Dừng hành trình";
    JOURNEY_STEP = "journey.step", "Bước hành trình";
    TICKET_CREATED = "ticket.created", "Tạo ticket";
    TICKET_IN_PROGRESS = "ticket.in_progress", "Nhận xử lý ticket";
    TICKET_WON = "ticket.won", "Ticket thành công (đã đăng ký)";
    TICKET_LOST = "ticket.lost", "Ticket không thành công";
    TICKET_UNREACHABLE = "ticket.unreachable", "Ticket: không liên lạc được";
    TICKET_CLOSED = "ticket.closed", "Đóng ticket";
    TICKET_REASSIGNED = "ticket.reassigned", "Chuyển người xử lý ticket";
    TICKET_ESCALATED = "ticket.escalated", "Ticket quá hạn, báo quản lý";
    TICKET_CALL_PLANNED = "ticket.call_planned", "Hẹn gọi";
    NEXT_ACTION_DONE = "next_action.done", "Hoàn thành lịch hẹn";
    NEXT_ACTION_RESCHEDULED = "next_action.rescheduled", "Dời lịch hẹn";
    NEXT_ACTION_CANCELLED = "next_action.cancelled", "Huỷ lịch hẹn";
    CARD_ISSUED = "card.issued", "Phát hành thẻ";
    CARD_ACTIVATED = "card.activated", "Kích hoạt thẻ";
    CARD_TRANSACTION = "card.transaction", "Giao dịch thẻ";
    CARD_FIRST_SPEND = "card.first_spend", "Chi tiêu lần đầu";
    CARD_CLOSED = "card.closed", "Huỷ thẻ";
    INSTALLMENT_INVITED = "installment.invited", "Mời tham gia trả góp";
    INSTALLMENT_REGISTERED = "installment.registered", "Đăng ký trả góp";
    INSTALLMENT_PAYMENT_RECEIVED = "installment.payment_received", "Nhận thanh toán trả góp";
    PAYMENT_RECEIVED = "payment.received", "Nhận thanh toán";
    INSTALLMENT_DUE = "installment.due", "Nhắc kỳ trả góp";
    INSTALLMENT_PAID_OFF = "installment.paid_off", "Trả hết khoản trả góp";
    CONTRACT_SIGNED = "contract.signed", "Ký hợp đồng";
    CONTRACT_ACTIVATED = "contract.activated", "Hợp đồng có hiệu lực";
    CONTRACT_SETTLED = "contract.settled", "Tất toán hợp đồng";
    CONTRACT_RENEWED = "contract.renewed", "Gia hạn hợp đồng";
    CONTRACT_SCANNED = "contract.scanned", "Đã lấy HĐ về và scan";
    CONTRACT_EXPIRING = "contract.expiring", "Hợp đồng sắp đáo hạn";
    SUBSCRIPTION_EXPIRING = "subscription.expiring", "Thuê bao sắp hết hạn";
    APP_INSTALLED = "app.installed", "Cài ứng dụng";
    FORM_SUBMITTED = "form.submitted", "Gửi biểu mẫu";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_is_dotted_unique_and_labelled() {
        let mut seen = std::collections::BTreeSet::new();
        for (wire, shown) in ALL {
            assert!(wire.split_once('.').is_some(), "{wire}");
            assert!(seen.insert(*wire), "{wire} twice");
            assert_eq!(label(wire), Some(*shown));
        }
        assert_eq!(label(CUSTOMER_CREATED), Some("Tạo khách hàng"));
        assert_eq!(label("core.something_else"), None);
    }
}
